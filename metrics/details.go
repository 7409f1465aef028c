package metrics

import (
	"github.com/sluiceproxy/sluice/parser"
	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/proxy"
)

// knownErrorDetails are the sluice-error details that get a series of
// sluice_errors_total of their own; any other detail (a new one, or one
// with a variable part such as policy.CheckAddr's "destination address
// 169.254.169.254 denied (link-local)") counts as "other". They are taken
// from the packages' sentinel errors, so that a reworded detail keeps its
// series. A detail added to engine, parser or policy should be added here.
var knownErrorDetails = []string{
	// engine (errors.go), and its mapping of resolver errors.
	proxy.ErrNoDestination.Detail,
	proxy.ErrBadDestination.Detail,
	proxy.ErrHeadTimeout.Detail,
	proxy.ErrLoop.Detail,
	proxy.ErrTLSOrigination.Detail,
	proxy.ErrConnectPort.Detail,
	proxy.ErrUpstreamReset.Detail,
	proxy.ErrUpstreamClosed.Detail,
	proxy.ErrUpstreamRefused.Detail,
	proxy.ErrUpstreamConnect.Detail,
	proxy.ErrUpstreamProtocol.Detail,
	proxy.ErrUpstreamCap.Detail,
	proxy.ErrTooManyConns.Detail,
	proxy.ErrDNSFailure.Detail,
	proxy.ErrDNSNotFound.Detail,
	proxy.ErrDNSOverflow.Detail,
	proxy.ErrDNSPending.Detail,
	proxy.ErrDNSTimeout.Detail,
	proxy.ErrConnectTimeout.Detail,
	proxy.ErrResponseTimeout.Detail,
	proxy.ErrAuthTimeout.Detail,
	proxy.ErrNoFDs.Detail,
	proxy.ErrTooManyInterim.Detail,
	proxy.ErrConnectAttempts.Detail,
	proxy.ErrConnectBudget.Detail,
	proxy.ErrUpgradeDenied.Detail,
	proxy.ErrRawTunnelDenied.Detail,
	proxy.ErrBoundDestination.Detail,
	proxy.ErrTraceNotForwarded.Detail,
	// engine (session.go): exchanges that end without an error response.
	// These have no sentinel to refer to.
	proxy.DetailClientClosed,
	proxy.DetailCutResponse,

	// policy (errors.go).
	policy.ErrClientDenied.Reason,
	policy.ErrDestinationDenied.Reason,
	policy.ErrConnectPort.Reason,
	policy.ErrAuthRequired.Reason,
	policy.ErrRateLimited.Reason,
	policy.ErrAuthOverloaded.Reason,
	policy.ErrAuthClientBusy.Reason,

	// parser (errors.go): rejected requests and upstream responses.
	parser.ErrBadRequestLine.Reason,
	parser.ErrBadMethod.Reason,
	parser.ErrRequestLineTooLong.Reason,
	parser.ErrVersion.Reason,
	parser.ErrBadTarget.Reason,
	parser.ErrTargetForm.Reason,
	parser.ErrFragment.Reason,
	parser.ErrBadScheme.Reason,
	parser.ErrUserinfo.Reason,
	parser.ErrBadPort.Reason,
	parser.ErrHeadTooLarge.Reason,
	parser.ErrTooManyHeaders.Reason,
	parser.ErrTooManyConnectionOptions.Reason,
	parser.ErrBareLF.Reason,
	parser.ErrSpaceBeforeColon.Reason,
	parser.ErrObsFold.Reason,
	parser.ErrBadHeaderName.Reason,
	parser.ErrEmptyHeaderName.Reason,
	parser.ErrMissingColon.Reason,
	parser.ErrBadHeaderValue.Reason,
	parser.ErrTEAndCL.Reason,
	parser.ErrTENotChunked.Reason,
	parser.ErrTEInHTTP10.Reason,
	parser.ErrUnknownCoding.Reason,
	parser.ErrBadTransferEncoding.Reason,
	parser.ErrChunkedTwice.Reason,
	parser.ErrBadContentLength.Reason,
	parser.ErrConflictingContentLength.Reason,
	parser.ErrMultipleHost.Reason,
	parser.ErrBadHost.Reason,
	parser.ErrMissingHost.Reason,
	parser.ErrBadStatusLine.Reason,
	parser.ErrBadStatusCode.Reason,
	parser.ErrResponseVersion.Reason,
	parser.ErrBadChunkSize.Reason,
	parser.ErrChunkSizeOverflow.Reason,
	parser.ErrBadChunkExt.Reason,
	parser.ErrChunkExtTooLong.Reason,
	parser.ErrBadChunkTerminator.Reason,
	parser.ErrTrailerTooLarge.Reason,
}
