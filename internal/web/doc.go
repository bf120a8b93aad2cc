// Package web owns the web role: the server between the lb and the app
// servers. It answers requests for the codebase's static files itself, with
// strong content-hash ETags, conditional and Range requests, long-lived cache
// headers and gzip for text, and hands every other request to the app pool.
//
// On the way to the app it removes a client-certificate header that did not
// arrive over verified mutual TLS and adds itself to Via. It must never list a
// directory, serve a dotfile or a path outside the codebase, and it must never
// choose an app server: that is the pool's job, passed in as an http.Handler.
package web
