package httpapi

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"

	"itemsapi/internal/request"
)

// RateLimit bounds how many requests one client may make. It is off by
// default: behind a load balancer every request comes from the balancer's
// address, so a per-address limit would throttle all clients as one unless
// TrustedProxies names the balancers.
type RateLimit struct {
	// Requests is how many requests a client may make per Window; zero
	// turns rate limiting off.
	Requests int
	Window   time.Duration
	// TrustedProxies are the CIDR prefixes of the proxies in front of the
	// server. A request from one of them is attributed to the address its
	// X-Forwarded-For names, read right to left past every trusted hop;
	// any other request to its TCP peer, whatever its headers say.
	TrustedProxies []string
}

// clientAddress stores the address each request is attributed to: its TCP
// peer, or with trusted proxies the first untrusted hop of its
// X-Forwarded-For. It never trusts the header of a request that did not
// come through a trusted proxy. The rate limiter reads it, and the shares
// of the server's bounds per address (addressOf), which without trusted
// proxies read the TCP peer themselves.
func clientAddress(rl RateLimit) func(http.Handler) http.Handler {
	trusted := rl.TrustedProxies
	if rl.Requests <= 0 && len(trusted) == 0 {
		return func(next http.Handler) http.Handler { return next } // addressOf reads the peer
	}
	if len(trusted) == 0 {
		return middleware.ClientIPFromRemoteAddr
	}
	return middleware.ClientIPFromXFF(trusted...)
}

// ValidPrefixes returns an error naming the first entry of prefixes that
// is not a CIDR prefix (like 10.0.0.0/8 or 2001:db8::/32) or an address.
func ValidPrefixes(prefixes []string) error {
	for _, p := range prefixes {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				return fmt.Errorf("trusted proxy %q is neither a CIDR prefix nor an address", p)
			}
		}
	}
	return nil
}

// limiter holds the request budgets of client addresses and of tokens:
// rl.Requests per rl.Window each (a sliding window). A token's budget
// follows it from address to address, and an address cannot escape its
// own by presenting made-up tokens. Tokens are keyed by their hash, so no
// token is held in memory. HTTP requests (rateLimit) and websocket
// operations draw on the same budgets.
type limiter struct {
	byAddress *httprate.RateLimiter
	byToken   *httprate.RateLimiter
	window    time.Duration
	message   string
}

// newLimiter returns the limiter of rl, or nil when rl is off.
func newLimiter(rl RateLimit) *limiter {
	if rl.Requests <= 0 {
		return nil
	}
	return &limiter{
		// An address that could not be told (a malformed
		// X-Forwarded-For) shares one bucket with all such.
		byAddress: httprate.NewRateLimiter(rl.Requests, rl.Window),
		byToken:   httprate.NewRateLimiter(rl.Requests, rl.Window),
		window:    rl.Window,
		message:   fmt.Sprintf("rate limit exceeded: at most %d requests per %s per client; retry later", rl.Requests, rl.Window),
	}
}

// limited counts one request of the client address that r's context
// holds (see clientAddress) and of token, unless it is nil, and reports
// whether either is over its budget. It sets httprate's X-RateLimit
// headers on w.
func (l *limiter) limited(w http.ResponseWriter, r *http.Request, token *request.Token) bool {
	key := "a:" + httprate.CanonicalizeIP(middleware.GetClientIP(r.Context()))
	if l.byAddress.OnLimit(w, r, key) {
		return true
	}
	if token != nil {
		hash := token.Hash()
		if l.byToken.OnLimit(w, r, "t:"+string(hash[:])) {
			return true
		}
	}
	return false
}

// rateLimit limits every request with l (see limiter). Past a budget, the
// answer is 429 with Retry-After and nothing runs.
func rateLimit(l *limiter) func(http.Handler) http.Handler {
	if l == nil {
		return func(next http.Handler) http.Handler { return next }
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec, w, r := request.Of(w, r)
			if l.limited(w, r, rec.Token()) {
				if w.Header().Get("Retry-After") == "" {
					w.Header().Set("Retry-After", strconv.Itoa(int(l.window.Seconds())))
				}
				writeError(w, http.StatusTooManyRequests, codeBadRequest, l.message)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
