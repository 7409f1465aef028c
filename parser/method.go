package parser

// Method is a request method sluice knows by name; MethodOther is any other
// token (the name is in Request.MethodName). Methods are case-sensitive
// (RFC 9110 §9.1): "get" is MethodOther.
type Method uint8

// The methods of RFC 9110 §9 and PATCH (RFC 5789).
const (
	MethodOther Method = iota
	MethodGET
	MethodHEAD
	MethodPOST
	MethodPUT
	MethodDELETE
	MethodCONNECT
	MethodOPTIONS
	MethodTRACE
	MethodPATCH
)

var methodNames = [...]string{
	MethodOther:   "",
	MethodGET:     "GET",
	MethodHEAD:    "HEAD",
	MethodPOST:    "POST",
	MethodPUT:     "PUT",
	MethodDELETE:  "DELETE",
	MethodCONNECT: "CONNECT",
	MethodOPTIONS: "OPTIONS",
	MethodTRACE:   "TRACE",
	MethodPATCH:   "PATCH",
}

// String returns the method's name, or "" for MethodOther.
func (m Method) String() string {
	if int(m) < len(methodNames) {
		return methodNames[m]
	}
	return ""
}

// Idempotent reports whether m is idempotent (RFC 9110 §9.2.2: GET, HEAD, PUT,
// DELETE, OPTIONS and TRACE), so a request that failed before any response
// byte may be retried.
func (m Method) Idempotent() bool {
	switch m {
	case MethodGET, MethodHEAD, MethodPUT, MethodDELETE, MethodOPTIONS, MethodTRACE:
		return true
	}
	return false
}

// lookupMethod returns the Method named b (case-sensitive).
func lookupMethod(b []byte) Method {
	switch len(b) {
	case 3:
		if string(b) == "GET" {
			return MethodGET
		}
		if string(b) == "PUT" {
			return MethodPUT
		}
	case 4:
		if string(b) == "POST" {
			return MethodPOST
		}
		if string(b) == "HEAD" {
			return MethodHEAD
		}
	case 5:
		if string(b) == "PATCH" {
			return MethodPATCH
		}
		if string(b) == "TRACE" {
			return MethodTRACE
		}
	case 6:
		if string(b) == "DELETE" {
			return MethodDELETE
		}
	case 7:
		if string(b) == "CONNECT" {
			return MethodCONNECT
		}
		if string(b) == "OPTIONS" {
			return MethodOPTIONS
		}
	}
	return MethodOther
}
