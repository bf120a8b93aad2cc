package balance

import "net/http/httputil"

// forwardedHeaders are the headers ReverseProxy strips before Rewrite.
var forwardedHeaders = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}

// KeepForwarded copies the Forwarded and X-Forwarded-* headers of the
// incoming request to the outgoing one. Use it as (part of) Config.Rewrite in
// an inner hop whose peer is trusted to have set them, so the client's
// address set by the edge reaches the app. An edge must not use it.
func KeepForwarded(pr *httputil.ProxyRequest) {
	for _, k := range forwardedHeaders {
		if v, ok := pr.In.Header[k]; ok {
			pr.Out.Header[k] = append([]string(nil), v...)
		}
	}
}
