package playground

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// AssetPrefix is the path under which Handler serves the bundle's files.
const AssetPrefix = "/playground/"

// CSP is the Content-Security-Policy of the page. GraphiQL needs no eval and
// no inline script; it does set inline styles, and its fonts and icons are
// data: URLs. Subscriptions connect over ws: or wss:.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed dist
var dist embed.FS

const pageHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GraphiQL · items API</title>
<link rel="icon" type="image/svg+xml" href="{{.Icon}}">
<link rel="stylesheet" href="{{.CSS}}">
<script src="{{.JS}}" defer></script>
</head>
<body>
<div id="graphiql" data-endpoint="{{.Endpoint}}">Loading GraphiQL…</div>
</body>
</html>
`

// asset is one embedded file, with its gzip encoding made on first use.
type asset struct {
	body        []byte
	contentType string
	hash        string // hex prefix of the SHA-256 of body
	gzipped     func() []byte
}

type handler struct {
	page   []byte
	assets map[string]*asset // by name, without AssetPrefix
}

// Handler returns the handler of the GraphiQL page, pointed at the GraphQL
// endpoint (a path on the same origin, such as "/graphql"; empty means
// "/graphql"), and of its assets under AssetPrefix. It answers GET and HEAD;
// other methods get 405, and paths other than "/" and the assets get 404.
func Handler(endpoint string) http.Handler {
	if endpoint == "" {
		endpoint = "/graphql"
	}
	h := &handler{assets: make(map[string]*asset)}
	entries, err := fs.ReadDir(dist, "dist")
	if err != nil {
		panic("playground: embedded dist: " + err.Error()) // fixed at build time
	}
	for _, e := range entries {
		body, err := fs.ReadFile(dist, "dist/"+e.Name())
		if err != nil {
			panic("playground: embedded dist: " + err.Error())
		}
		sum := sha256.Sum256(body)
		h.assets[e.Name()] = &asset{
			body:        body,
			contentType: contentType(e.Name()),
			hash:        hex.EncodeToString(sum[:6]),
			gzipped:     sync.OnceValue(func() []byte { return compress(body) }),
		}
	}
	url := func(name string) string {
		return AssetPrefix + name + "?v=" + h.assets[name].hash
	}
	tmpl := template.Must(template.New("page").Parse(pageHTML))
	var buf bytes.Buffer
	err = tmpl.Execute(&buf, struct{ Endpoint, Icon, CSS, JS string }{
		Endpoint: endpoint,
		Icon:     url("favicon.svg"),
		CSS:      url("graphiql.css"),
		JS:       url("graphiql.js"),
	})
	if err != nil {
		panic("playground: page template: " + err.Error())
	}
	h.page = buf.Bytes()
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	hdr := w.Header()
	hdr.Set("X-Content-Type-Options", "nosniff")
	if r.URL.Path == "/" {
		hdr.Set("Content-Type", "text/html; charset=utf-8")
		hdr.Set("Content-Security-Policy", CSP)
		hdr.Set("Referrer-Policy", "no-referrer")
		hdr.Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(h.page))
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, AssetPrefix)
	a := h.assets[name]
	if !ok || a == nil {
		http.NotFound(w, r)
		return
	}
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Vary", "Accept-Encoding")
	if r.URL.Query().Get("v") == a.hash {
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hdr.Set("Cache-Control", "no-cache")
	}
	body, etag := a.body, `"`+a.hash+`"`
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body, etag = a.gzipped(), `"`+a.hash+`.gz"`
		hdr.Set("Content-Encoding", "gzip")
	}
	hdr.Set("ETag", etag)
	// A zero time leaves Last-Modified out: the ETag identifies the content.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// acceptsGzip reports whether an Accept-Encoding header value admits gzip
// ("gzip", with no q or a q above 0).
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		for param := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(param, "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				return err == nil && q > 0
			}
		}
		return true
	}
	return false
}

func compress(body []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	zw.Write(body)                                           // writes to a bytes.Buffer do not fail
	zw.Close()
	return buf.Bytes()
}
