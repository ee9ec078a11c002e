package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// ui is the dashboard as `make dashboard` builds it from dashboard/ (the
// folder holds only .gitkeep until then).
//
//go:embed all:ui
var ui embed.FS

// DashboardFS is the built dashboard embedded in the binary.
func DashboardFS() fs.FS {
	sub, err := fs.Sub(ui, "ui")
	if err != nil { // the folder is embedded, so this cannot happen
		panic(err)
	}
	return sub
}

// dashboardPages are the dashboard's page paths; each answers index.html,
// and the page's script renders it from the URL.
var dashboardPages = []string{
	"/{$}", "/signin", "/live", "/journey", "/funnels", "/paths", "/attribution",
	"/dwell", "/dropoff", "/retention", "/quality", "/sql",
}

// asset is one file of the dashboard, read once at start.
type asset struct {
	body, gz    []byte
	etag, ctype string
}

// registerDashboard serves the dashboard: its pages at dashboardPages and
// its files under /ui/. Files are revalidated by ETag (no-cache), sent
// gzipped to browsers that take it. Without a built dashboard, the pages
// say how to build it.
func (a *API) registerDashboard(mux router) {
	assets := map[string]*asset{}
	if a.opts.Dashboard != nil {
		err := fs.WalkDir(a.opts.Dashboard, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
				return err
			}
			b, err := fs.ReadFile(a.opts.Dashboard, p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			ct := mime.TypeByExtension(path.Ext(p))
			if ct == "" {
				ct = http.DetectContentType(b)
			}
			as := &asset{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ctype: ct}
			if len(b) > 1024 {
				var z bytes.Buffer
				zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
				_, _ = zw.Write(b)
				_ = zw.Close()
				as.gz = z.Bytes()
			}
			assets[p] = as
			return nil
		})
		if err != nil {
			a.log.Error("read dashboard", "err", err)
		}
	}
	index := assets["index.html"]
	page := func(w http.ResponseWriter, r *http.Request) {
		if index == nil {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte("The dashboard was not built into this binary: run `make build` (it needs npm).\nThe API is served under /api/v1.\n"))
			return
		}
		serveAsset(w, r, index)
	}
	for _, p := range dashboardPages {
		mux.HandleFunc("GET "+p, page)
	}
	mux.HandleFunc("GET /ui/{file...}", func(w http.ResponseWriter, r *http.Request) {
		as := assets[r.PathValue("file")]
		if as == nil || r.PathValue("file") == "index.html" {
			http.NotFound(w, r)
			return
		}
		serveAsset(w, r, as)
	})
}

func serveAsset(w http.ResponseWriter, r *http.Request, as *asset) {
	h := w.Header()
	h.Set("Content-Type", as.ctype)
	h.Set("ETag", as.etag)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Add("Vary", "Accept-Encoding")
	if r.Header.Get("If-None-Match") == as.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := as.body
	if as.gz != nil && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		body = as.gz
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}
