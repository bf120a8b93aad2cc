package web

import (
	"bytes"
	"compress/gzip"
	"mime"
	"strconv"
	"strings"
)

// minGzipSize is the smallest file worth compressing: below it the gzip
// header and the CPU cost outweigh the bytes saved.
const minGzipSize = 1024

// compressible reports whether a content type is text-like. Images, fonts
// in woff/woff2, archives and media are already compressed.
func compressible(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	if strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+xml") {
		return true
	}
	switch mt {
	case "application/javascript", "application/x-javascript", "application/json",
		"application/xml", "application/wasm", "image/x-icon", "image/vnd.microsoft.icon",
		"image/bmp", "font/ttf", "font/otf", "application/vnd.ms-fontobject":
		return true
	}
	return false
}

// gzipIfSmaller returns b gzipped at the best level, or nil when b is too
// small or the result saves less than a tenth.
func gzipIfSmaller(b []byte) []byte {
	if len(b) < minGzipSize {
		return nil
	}
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	if out.Len() > len(b)*9/10 {
		return nil
	}
	return out.Bytes()
}

// acceptsGzip reports whether Accept-Encoding values allow gzip: "gzip" or
// "x-gzip" listed with a q-value above zero. A bare "*" is not taken as
// consent, as many middlewares do not.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding != "gzip" && coding != "x-gzip" {
				continue
			}
			return qValue(params) > 0
		}
	}
	return false
}

// qValue returns the q parameter in params such as " q=0.5", or 1.
func qValue(params string) float64 {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0
			}
			return q
		}
	}
	return 1
}
