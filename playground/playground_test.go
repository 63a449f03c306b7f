package playground_test

import (
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"itemsapi/playground"
)

// serve sends one request through h and returns the response with its body
// read.
func serve(t testing.TB, h http.Handler, method, target string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), method, target, nil)
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, target, err)
	}
	return res, body
}

// element is an HTML start tag of the page, with its attributes.
type element struct {
	name  string
	attrs map[string]string
}

// parsePage returns the start tags of an HTML document.
func parsePage(t testing.TB, page []byte) []element {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	var els []element
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return els
		}
		if err != nil {
			t.Fatalf("parsing the page: %v\n%s", err, page)
		}
		if start, ok := tok.(xml.StartElement); ok {
			el := element{name: strings.ToLower(start.Name.Local), attrs: map[string]string{}}
			for _, a := range start.Attr {
				el.attrs[strings.ToLower(a.Name.Local)] = a.Value
			}
			els = append(els, el)
		}
	}
}

// pageURLs returns every src and href of the page at "/".
func pageURLs(t testing.TB, h http.Handler) []string {
	t.Helper()
	_, body := serve(t, h, http.MethodGet, "/", nil)
	var urls []string
	for _, el := range parsePage(t, body) {
		for _, attr := range []string{"src", "href"} {
			if v, ok := el.attrs[attr]; ok {
				urls = append(urls, v)
			}
		}
	}
	return urls
}

func TestPage(t *testing.T) {
	tests := []struct {
		name, endpoint, method string
		wantInBody             string
	}{
		{"GET", "/graphql", http.MethodGet, `data-endpoint="/graphql"`},
		{"HEAD", "/graphql", http.MethodHead, ""},
		{"default endpoint", "", http.MethodGet, `data-endpoint="/graphql"`},
		{"other endpoint", "/api/graphql", http.MethodGet, `data-endpoint="/api/graphql"`},
		{"endpoint escaped", `/q?a="b"&c`, http.MethodGet, `data-endpoint="/q?a=&#34;b&#34;&amp;c"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := serve(t, playground.Handler(tt.endpoint), tt.method, "/", nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%s / status = %d, want 200", tt.method, res.StatusCode)
			}
			wantHeader := map[string]string{
				"Content-Type":            "text/html; charset=utf-8",
				"Content-Security-Policy": playground.CSP,
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"Cache-Control":           "no-cache",
			}
			gotHeader := map[string]string{}
			for k := range wantHeader {
				gotHeader[k] = res.Header.Get(k)
			}
			if diff := cmp.Diff(wantHeader, gotHeader); diff != "" {
				t.Errorf("%s / headers (-want +got):\n%s", tt.method, diff)
			}
			if tt.method == http.MethodHead {
				if len(body) != 0 {
					t.Errorf("HEAD / body = %d bytes, want none", len(body))
				}
				return
			}
			if !bytes.Contains(body, []byte(tt.wantInBody)) {
				t.Errorf("GET / body does not contain %s:\n%s", tt.wantInBody, body)
			}
		})
	}
}

func TestPageIsLocalAndScriptFree(t *testing.T) {
	h := playground.Handler("/graphql")
	_, body := serve(t, h, http.MethodGet, "/", nil)
	var scripts int
	for _, el := range parsePage(t, body) {
		if el.name == "script" {
			scripts++
			if el.attrs["src"] == "" {
				t.Errorf("page has an inline <script>, which the CSP blocks:\n%s", body)
			}
		}
	}
	if scripts == 0 {
		t.Errorf("page has no <script>:\n%s", body)
	}
	urls := pageURLs(t, h)
	if len(urls) < 3 {
		t.Fatalf("page URLs = %q, want the icon, the stylesheet and the script", urls)
	}
	for _, u := range urls {
		lower := strings.ToLower(u)
		if strings.HasPrefix(lower, "http:") || strings.HasPrefix(lower, "https:") ||
			strings.HasPrefix(lower, "//") || !strings.HasPrefix(lower, "/") {
			t.Errorf("page references %q, want a local path", u)
		}
	}
}

func TestAssets(t *testing.T) {
	h := playground.Handler("/graphql")
	wantType := map[string]string{
		".js":  "text/javascript; charset=utf-8",
		".css": "text/css; charset=utf-8",
		".svg": "image/svg+xml",
	}
	for _, u := range pageURLs(t, h) {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			t.Run(method+" "+u, func(t *testing.T) {
				res, body := serve(t, h, method, u, nil)
				if res.StatusCode != http.StatusOK {
					t.Fatalf("%s %s status = %d, want 200", method, u, res.StatusCode)
				}
				name, _, _ := strings.Cut(u, "?")
				if got, want := res.Header.Get("Content-Type"), wantType[path.Ext(name)]; got != want {
					t.Errorf("%s %s Content-Type = %q, want %q", method, u, got, want)
				}
				if got, want := res.Header.Get("Cache-Control"), "public, max-age=31536000, immutable"; got != want {
					t.Errorf("%s %s Cache-Control = %q, want %q", method, u, got, want)
				}
				if got := res.Header.Get("Content-Encoding"); got != "" {
					t.Errorf("%s %s without Accept-Encoding: Content-Encoding = %q, want none", method, u, got)
				}
				if res.Header.Get("ETag") == "" {
					t.Errorf("%s %s has no ETag", method, u)
				}
				if method == http.MethodHead {
					if len(body) != 0 || res.ContentLength <= 0 {
						t.Errorf("HEAD %s body = %d bytes, Content-Length = %d; want none and > 0", u, len(body), res.ContentLength)
					}
					return
				}
				if len(body) == 0 {
					t.Errorf("GET %s body is empty", u)
				}
			})
		}
	}
}

func TestAssetGzip(t *testing.T) {
	h := playground.Handler("/graphql")
	for _, u := range pageURLs(t, h) {
		t.Run(u, func(t *testing.T) {
			_, plain := serve(t, h, http.MethodGet, u, nil)
			res, body := serve(t, h, http.MethodGet, u, http.Header{"Accept-Encoding": {"br, gzip"}})
			if got := res.Header.Get("Content-Encoding"); got != "gzip" {
				t.Fatalf("GET %s with gzip accepted: Content-Encoding = %q, want gzip", u, got)
			}
			if got := res.Header.Get("Vary"); got != "Accept-Encoding" {
				t.Errorf("GET %s Vary = %q, want Accept-Encoding", u, got)
			}
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("GET %s: gzip.NewReader: %v", u, err)
			}
			got, err := io.ReadAll(zr)
			if err != nil {
				t.Fatalf("GET %s: gunzip: %v", u, err)
			}
			if !bytes.Equal(got, plain) {
				t.Errorf("GET %s: gunzipped body (%d bytes) differs from the plain one (%d bytes)", u, len(got), len(plain))
			}
			if len(plain) > 1024 && len(body) >= len(plain) {
				t.Errorf("GET %s: gzipped body is %d bytes, plain %d; want smaller", u, len(body), len(plain))
			}

			res, _ = serve(t, h, http.MethodGet, u, http.Header{"Accept-Encoding": {"gzip;q=0"}})
			if got := res.Header.Get("Content-Encoding"); got != "" {
				t.Errorf("GET %s with gzip;q=0: Content-Encoding = %q, want none", u, got)
			}
		})
	}
}

func TestAssetsHaveNoCDN(t *testing.T) {
	h := playground.Handler("/graphql")
	hosts := []string{
		"unpkg.com", "cdn.jsdelivr.net", "esm.sh", "cdnjs.cloudflare.com",
		"fonts.googleapis.com", "fonts.gstatic.com", "cdn.skypack.dev",
	}
	for _, u := range pageURLs(t, h) {
		_, body := serve(t, h, http.MethodGet, u, nil)
		for _, host := range hosts {
			if bytes.Contains(body, []byte(host)) {
				t.Errorf("%s references %s", u, host)
			}
		}
	}
}

func TestConditionalAndStale(t *testing.T) {
	h := playground.Handler("/graphql")
	for _, u := range pageURLs(t, h) {
		t.Run(u, func(t *testing.T) {
			res, _ := serve(t, h, http.MethodGet, u, nil)
			etag := res.Header.Get("ETag")
			res, body := serve(t, h, http.MethodGet, u, http.Header{"If-None-Match": {etag}})
			if res.StatusCode != http.StatusNotModified || len(body) != 0 {
				t.Errorf("GET %s If-None-Match %s = %d with %d bytes, want 304 with none", u, etag, res.StatusCode, len(body))
			}

			name, _, _ := strings.Cut(u, "?")
			for _, stale := range []string{name, name + "?v=0000"} {
				res, _ := serve(t, h, http.MethodGet, stale, nil)
				if res.StatusCode != http.StatusOK {
					t.Errorf("GET %s status = %d, want 200", stale, res.StatusCode)
				}
				if got := res.Header.Get("Cache-Control"); got != "no-cache" {
					t.Errorf("GET %s Cache-Control = %q, want no-cache", stale, got)
				}
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		method, target string
		wantStatus     int
		wantAllow      string
	}{
		{http.MethodGet, playground.AssetPrefix + "nope.js", http.StatusNotFound, ""},
		{http.MethodHead, playground.AssetPrefix + "nope.css", http.StatusNotFound, ""},
		{http.MethodGet, playground.AssetPrefix, http.StatusNotFound, ""},
		{http.MethodGet, playground.AssetPrefix + "../playground.go", http.StatusNotFound, ""},
		{http.MethodGet, "/graphql", http.StatusNotFound, ""},
		{http.MethodGet, "/index.html", http.StatusNotFound, ""},
		{http.MethodPost, "/", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodDelete, playground.AssetPrefix + "graphiql.js", http.StatusMethodNotAllowed, "GET, HEAD"},
	}
	h := playground.Handler("/graphql")
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			res, _ := serve(t, h, tt.method, tt.target, nil)
			if res.StatusCode != tt.wantStatus {
				t.Errorf("%s %s status = %d, want %d", tt.method, tt.target, res.StatusCode, tt.wantStatus)
			}
			if got := res.Header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("%s %s Allow = %q, want %q", tt.method, tt.target, got, tt.wantAllow)
			}
		})
	}
}
