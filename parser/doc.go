// Package parser is sluice's HTTP/1.1 wire format: request and response heads,
// body framing (RFC 9112 §6.3), an incremental chunked decoder and the writers of
// the heads sluice forwards.
//
// # Zero allocation, spans
//
// The parsers do not copy. A parsed head keeps the bytes it was parsed from in
// Raw and describes every element as a Span, a pair of offsets into Raw. A Span
// stays meaningful as long as the bytes of Raw are unchanged: the engine copies
// a head out of a transient read buffer and calls Rebase when the head must
// outlive the buffer. Parsers, decoders and heads are reused through Reset,
// which keeps the capacity of the header slice, so a warmed-up parser allocates
// nothing per message. Header lookup by name is case-insensitive and does not
// allocate.
//
// # Incremental
//
// RequestParser.Parse and ResponseParser.Parse are called with all the bytes
// received since Reset, each call with the bytes of the previous call plus any
// new ones. They remember how far they got, so feeding a head one byte at a time
// costs linear time, and they enforce the size limits before the head is
// complete. They answer "need more bytes" (0, nil), "done" (the head's length)
// or a *Error. ChunkedDecoder.Decode consumes a chunked body as it arrives and
// returns the chunk data as subslices of its input.
//
// # Strictness
//
// The parsers are strict wherever a lenient reading would let two HTTP
// implementations disagree about where a message ends (request smuggling,
// RFC 9112 §11.2) and lenient only where the RFC asks recipients to be:
//
//   - A line end is CRLF. A bare LF ending a line of a head is rejected
//     (ErrBareLF) although RFC 9112 §2.2 allows accepting it; inside chunked
//     framing it is always rejected. A CR not followed by LF is rejected.
//   - Field names are tokens; whitespace between name and colon is rejected
//     (RFC 9112 §5.1), and so is obs-fold, a line starting with SP or HTAB
//     (RFC 9112 §5.2). Field values are VCHAR, obs-text, SP and HTAB with the
//     surrounding OWS trimmed; NUL and bare CR are rejected (RFC 9110 §5.5).
//   - Content-Length is 1*DIGIT within int64. A list of identical values
//     ("5, 5") and repeated fields with the same value are accepted as one value
//     (RFC 9110 §8.6); differing values are rejected. Empty list elements are
//     rejected in Content-Length and Transfer-Encoding.
//   - Transfer-Encoding together with Content-Length is rejected, in requests and
//     in responses (RFC 9112 §6.3 rule 3 lets a recipient treat it as an error).
//     A request's Transfer-Encoding must end in chunked (RFC 9112 §6.3 rule 4),
//     may hold only chunked, gzip, deflate, compress, x-gzip and x-compress
//     (others: ErrUnknownCoding, 501 per RFC 9112 §6.1), applies chunked once,
//     and is rejected in an HTTP/1.0 message (RFC 9112 §6.1). A response whose
//     Transfer-Encoding does not end in chunked is close-delimited.
//   - A request has at most one Host field, whose value is a valid uri-host
//     with an optional port and no userinfo (RFC 9112 §3.2); pct-encoded host
//     names are rejected, as DNS cannot resolve them. An HTTP/1.1
//     request in origin-form or asterisk-form must have one; absolute-form and
//     CONNECT may omit it. An empty Host value is accepted (RFC 9110 §7.2).
//   - The request-target is origin-form, absolute-form with scheme http or https
//     (case-insensitive), authority-form (CONNECT only, port required) or "*"
//     (OPTIONS only). Userinfo and fragments are rejected, a port is 1..65535
//     and an empty port counts as absent (RFC 3986 §3.2.3). Target bytes are
//     visible ASCII (the "unwise" " < > \ ^ ` { | } included, as browsers send
//     them); percent-encoding is checked in the path, not in the query.
//   - HTTP/1.0 and HTTP/1.1 are parsed. HTTP/1.x with x > 1 is treated as
//     HTTP/1.1 (RFC 9110 §2.5); another major version is ErrVersion (505).
//     Empty lines before a request-line are skipped (RFC 9112 §2.2), at most 8.
//   - A status code is three digits from 100 to 599; the reason phrase may be
//     empty, and the SP before an empty reason may be missing.
//   - Chunk sizes are hex without sign or prefix, at most 2^62 - 1; chunk
//     extensions follow RFC 9112 §7.1.1 and are bounded (MaxChunkExtBytes per
//     chunk); trailer fields are validated like header fields and bounded.
//
// # Errors
//
// Every rejection is one *Error sentinel with the status a proxy answers it
// with. An error from ResponseParser means the upstream misbehaved (502,
// whatever the sentinel's Status); a ChunkedDecoder error carries 400, the
// answer to a malformed chunked request body.
//
// # Writers
//
// AppendRequestHead and AppendResponseHead write the heads sluice forwards:
// origin-form target, Host set to the target authority, hop-by-hop fields
// removed (RFC 9110 §7.6.1), Via appended, Content-Length written once as
// the parsed value, and framing fields dropped when sluice re-frames a body.
//
// # Ownership
//
// A parser, a decoder and a parsed head belong to one goroutine (the event loop
// that owns the connection); none of them is safe for concurrent use.
package parser
