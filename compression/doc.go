// Package compression decides which responses sluice compresses and with
// what (RFC 9110 §12.5.3 Accept-Encoding negotiation; the media types, the
// minimum length and the cases never compressed), and provides pooled
// gzip and zstd encoders from github.com/klauspost/compress. It holds no
// network code; the proxy session consults it.
package compression
