package monitor

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-dev/rampart/internal/pki"
)

// The dashboard's login scheme.
//
// The login token is derived from the site's CA key: HMAC-SHA256 keyed with
// the SHA-256 of the key, over a fixed label and the site's domain, cut to
// 144 bits. Whoever holds the CA key can compute it (`up` and `rampart
// status` do), and whoever holds the CA key could issue themselves an admin
// certificate anyway, so the token grants nothing the key did not. It
// changes only with the CA.
//
// A browser logs in by POSTing the token to /api/login, which sets a
// session cookie (HttpOnly, Secure, SameSite=Strict) that is good for
// sessionLife: the expiry and an HMAC of it under a key derived from the
// same secret, so the collector keeps no session state. The URL that `up`
// prints carries the token in the fragment (#token=...), which browsers
// never send to a server or log, and the page removes it once used. A
// client that presents the admin certificate needs no login at all.
const (
	sessionCookie = "rampart_session"
	sessionLife   = 12 * time.Hour
)

// LoginToken returns the dashboard login token of the site whose CA is ca.
func LoginToken(ca *pki.CA) string {
	return base64.RawURLEncoding.EncodeToString(secret(ca, "login")[:18])
}

func secret(ca *pki.CA, purpose string) []byte {
	der, err := x509.MarshalECPrivateKey(ca.Key)
	if err != nil {
		panic(err) // a CA key that loaded always marshals
	}
	k := sha256.Sum256(der)
	m := hmac.New(sha256.New, k[:])
	m.Write([]byte("rampart dashboard v1\x00" + purpose + "\x00" + ca.Cert.Subject.CommonName))
	return m.Sum(nil)
}

// Auth decides who may see the dashboard's data.
type Auth struct {
	ca         *pki.CA
	token      string
	sessionKey []byte
	now        func() time.Time
}

// NewAuth returns the login scheme of the site whose CA is ca.
func NewAuth(ca *pki.CA) *Auth {
	return &Auth{ca: ca, token: LoginToken(ca), sessionKey: secret(ca, "session"), now: time.Now}
}

// allowed reports whether r comes from a logged-in browser or presents the
// admin certificate.
func (a *Auth) allowed(r *http.Request) bool {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		if id, ok := a.ca.PeerIdentity(r.TLS.VerifiedChains[0][0]); ok && id == pki.AdminIdentity {
			return true
		}
	}
	c, err := r.Cookie(sessionCookie)
	return err == nil && a.validSession(c.Value)
}

func (a *Auth) session(exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return e + "." + a.sign(e)
}

func (a *Auth) sign(exp string) string {
	m := hmac.New(sha256.New, a.sessionKey)
	m.Write([]byte(exp))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:24])
}

func (a *Auth) validSession(v string) bool {
	e, sig, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil || a.now().Unix() >= exp {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(a.sign(e)))
}

// serveLogin checks a token and sets the session cookie.
func (a *Auth) serveLogin(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&body); err != nil {
		http.Error(w, "login: send {\"token\": \"...\"}", http.StatusBadRequest)
		return
	}
	if !hmac.Equal([]byte(body.Token), []byte(a.token)) {
		http.Error(w, "login: wrong token (up prints it, and so does rampart status)", http.StatusUnauthorized)
		return
	}
	exp := a.now().Add(sessionLife)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: a.session(exp), Path: "/", Expires: exp,
		MaxAge: int(sessionLife.Seconds()), HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

func (a *Auth) serveLogout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}
