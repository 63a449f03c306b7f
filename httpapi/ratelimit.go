package httpapi

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"

	"itemsapi/auth"
	"itemsapi/items"
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
// come through a trusted proxy.
func clientAddress(rl RateLimit) func(http.Handler) http.Handler {
	if rl.Requests <= 0 {
		return func(next http.Handler) http.Handler { return next } // nothing reads it
	}
	trusted := rl.TrustedProxies
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

// rateLimit limits every client address, and separately every token, to
// rl.Requests per rl.Window (a sliding window): a token's budget follows it
// from address to address, and an address cannot escape its own by
// presenting made-up tokens. Past either, the answer is 429 with
// Retry-After and nothing runs. Tokens are keyed by their hash, so no
// token is held in memory.
func rateLimit(rl RateLimit) func(http.Handler) http.Handler {
	if rl.Requests <= 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	// An address that could not be told (a malformed X-Forwarded-For)
	// shares one bucket with all such.
	byAddress := httprate.NewRateLimiter(rl.Requests, rl.Window)
	byToken := httprate.NewRateLimiter(rl.Requests, rl.Window)
	message := fmt.Sprintf("rate limit exceeded: at most %d requests per %s per client; retry later", rl.Requests, rl.Window)
	refuse := func(w http.ResponseWriter) {
		if w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", strconv.Itoa(int(rl.Window.Seconds())))
		}
		writeError(w, http.StatusTooManyRequests, codeBadRequest, message)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := "a:" + httprate.CanonicalizeIP(middleware.GetClientIP(r.Context()))
			if byAddress.OnLimit(w, r, key) {
				refuse(w)
				return
			}
			if token, ok := auth.FromHeader(r.Header); ok {
				hash := items.HashToken(token)
				if byToken.OnLimit(w, r, "t:"+string(hash[:])) {
					refuse(w)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}
