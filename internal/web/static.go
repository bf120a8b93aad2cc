package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// staticFiles serves the regular files of a codebase. What it learns about a
// file (hash, type, gzip form) is computed on the first request and kept
// until the file's size or modification time changes.
type staticFiles struct {
	fsys         fs.FS
	cacheControl string
	log          *slog.Logger

	mu    sync.Mutex
	metas map[string]*fileMeta
}

// fileMeta is what a response needs to know about one version of a file.
type fileMeta struct {
	size    int64
	modTime time.Time

	etag        string
	contentType string
	gz          []byte // the whole file gzipped; nil when not worth it
	gzETag      string
}

func newStaticFiles(fsys fs.FS, maxAge time.Duration, log *slog.Logger) *staticFiles {
	cc := "no-cache"
	if maxAge > 0 {
		cc = "public, max-age=" + strconv.FormatInt(int64(maxAge/time.Second), 10)
	}
	return &staticFiles{fsys: fsys, cacheControl: cc, log: log, metas: map[string]*fileMeta{}}
}

// fileName maps a URL path to a codebase file name. It refuses the root,
// directories (a trailing slash), dotfiles, and anything fs.ValidPath
// rejects, such as ".." elements, whether they arrived plain or encoded.
func fileName(urlPath string) (string, bool) {
	name, ok := strings.CutPrefix(urlPath, "/")
	if !ok || name == "" || !fs.ValidPath(name) || strings.ContainsAny(name, "\\\x00") {
		return "", false
	}
	for elem := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(elem, ".") {
			return "", false
		}
	}
	return name, true
}

// serve answers r from the codebase if its path names a regular file and
// reports whether it did.
func (s *staticFiles) serve(w http.ResponseWriter, r *http.Request) bool {
	name, ok := fileName(r.URL.Path)
	if !ok {
		return false
	}
	f, err := s.fsys.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		return false
	}
	m, err := s.meta(name, info)
	if err != nil {
		s.log.Error("read static file", "file", name, "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return true
	}

	h := w.Header()
	h.Set("Content-Type", m.contentType)
	h.Set("Cache-Control", s.cacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	if m.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		// A Range names bytes of the identity form, so it never gets gzip.
		if r.Header.Get("Range") == "" && acceptsGzip(r.Header.Values("Accept-Encoding")) {
			h.Set("ETag", m.gzETag)
			h.Set("Content-Encoding", "gzip")
			// ServeContent leaves Content-Length out when Content-Encoding
			// is set; ours is exact, and it drops it on 304 and errors.
			h.Set("Content-Length", strconv.Itoa(len(m.gz)))
			http.ServeContent(w, r, name, info.ModTime(), bytes.NewReader(m.gz))
			return true
		}
	}
	h.Set("ETag", m.etag)
	content, ok := f.(io.ReadSeeker)
	if !ok {
		b, err := io.ReadAll(f)
		if err != nil {
			s.log.Error("read static file", "file", name, "err", err)
			http.Error(w, "internal server error", http.StatusInternalServerError)
			return true
		}
		content = bytes.NewReader(b)
	}
	http.ServeContent(w, r, name, info.ModTime(), content)
	return true
}

// meta returns the cached fileMeta for this version of name, computing it
// if the file is new or changed.
func (s *staticFiles) meta(name string, info fs.FileInfo) (*fileMeta, error) {
	s.mu.Lock()
	m := s.metas[name]
	s.mu.Unlock()
	if m != nil && m.size == info.Size() && m.modTime.Equal(info.ModTime()) {
		return m, nil
	}
	// Computed outside the lock: two first requests may both hash the file,
	// which is cheaper than making every other file wait.
	m, err := s.computeMeta(name, info)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.metas[name] = m
	s.mu.Unlock()
	return m, nil
}

// maxGzipSize bounds the files kept gzipped in memory. Larger text files are
// rare in a codebase and are served uncompressed.
const maxGzipSize = 4 << 20

func (s *staticFiles) computeMeta(name string, info fs.FileInfo) (*fileMeta, error) {
	f, err := s.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	// Keep the whole file only when it may be gzipped; otherwise keep the
	// first 512 bytes, enough to sniff a type the extension does not give.
	ctype := mime.TypeByExtension(path.Ext(name))
	keep := int64(512)
	if info.Size() <= maxGzipSize && (ctype == "" || compressible(ctype)) {
		keep = info.Size()
	}
	hash := sha256.New()
	var head bytes.Buffer
	n, err := io.Copy(io.MultiWriter(hash, &headWriter{buf: &head, max: keep}), f)
	if err != nil {
		return nil, fmt.Errorf("hash %s: %w", name, err)
	}
	if ctype == "" {
		ctype = http.DetectContentType(head.Bytes())
	}
	sum := hex.EncodeToString(hash.Sum(nil)[:16])
	m := &fileMeta{
		size:        info.Size(),
		modTime:     info.ModTime(),
		etag:        `"` + sum + `"`,
		contentType: ctype,
	}
	if n == int64(head.Len()) && compressible(ctype) {
		if gz := gzipIfSmaller(head.Bytes()); gz != nil {
			m.gz = gz
			m.gzETag = `"` + sum + `-gzip"`
		}
	}
	return m, nil
}

// headWriter keeps the first max bytes written to it and discards the rest.
type headWriter struct {
	buf *bytes.Buffer
	max int64
}

func (h *headWriter) Write(p []byte) (int, error) {
	if room := h.max - int64(h.buf.Len()); room > 0 {
		h.buf.Write(p[:min(int64(len(p)), room)])
	}
	return len(p), nil
}
