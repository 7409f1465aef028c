package cache

// Reason says why a response is not stored; "" means it may be.
type Reason string

// The reasons Storable gives (the access log's uncacheable causes).
const (
	Storable         Reason = ""
	ReasonMethod     Reason = "method"        // not a GET
	ReasonStatus     Reason = "status"        // outside the cacheable set
	ReasonNoStore    Reason = "no-store"      // in the request or the response
	ReasonPrivate    Reason = "private"       // for one user: not for a shared cache
	ReasonVaryStar   Reason = "vary-star"     // Vary: * never matches
	ReasonSetCookie  Reason = "set-cookie"    // would hand one user's cookie to others
	ReasonAuthorized Reason = "authorization" // a credentialed request, not allowed by the response
	ReasonNoLifetime Reason = "no-lifetime"   // no explicit freshness (no heuristics)
)

// cacheableStatus is the set of final statuses stored: those RFC 9110 §15.1
// calls heuristically cacheable, but 206 (sluice stores no partial
// content).
var cacheableStatus = map[int]bool{
	200: true, 203: true, 204: true, 300: true, 301: true, 308: true,
	404: true, 405: true, 410: true, 414: true, 501: true,
}

// Exchange is what decides whether a response may be stored: the request's
// method and directives and whether it carried credentials, and the
// response's status, directives, times and the fields that forbid storing.
type Exchange struct {
	GET           bool // the request's method is GET (HEAD is answered from a GET's entry)
	Request       Directives
	Authorization bool // the request had an Authorization field

	Status    int
	Response  Directives
	Times     Times
	SetCookie bool // the response has a Set-Cookie field
	VaryStar  bool // the response's Vary lists "*"
}

// Decide says whether a shared cache may store the response (RFC 9111 §3,
// and sluice's stricter choices: no Set-Cookie, no heuristic freshness).
func Decide(x Exchange) Reason {
	switch {
	case !x.GET:
		return ReasonMethod
	case !cacheableStatus[x.Status]:
		return ReasonStatus
	case x.Request.NoStore || x.Response.NoStore:
		return ReasonNoStore
	case x.Response.Private:
		return ReasonPrivate
	case x.VaryStar:
		return ReasonVaryStar
	case x.SetCookie:
		return ReasonSetCookie
	case x.Authorization && !x.Response.Public && x.Response.SMaxAge == Absent && !x.Response.MustRevalidate:
		// §3.5: only these let a shared cache keep an authenticated
		// response.
		return ReasonAuthorized
	case !HasLifetime(x.Response, x.Times):
		return ReasonNoLifetime
	}
	return Storable
}
