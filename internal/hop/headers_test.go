package hop

import (
	"net/http"
	"reflect"
	"testing"
)

func TestAddViaAppendsInOrder(t *testing.T) {
	h := http.Header{}
	AddVia(h, "lb-1")
	AddVia(h, "web-2")
	AddVia(h, "app-1")
	if got, want := ViaServers(h.Get(Via)), []string{"lb-1", "web-2", "app-1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ViaServers = %v, want %v", got, want)
	}
}

func TestClientCertHeaderIsDroppedWithoutVerifiedPeer(t *testing.T) {
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set(ClientCert, `subject="CN=forged"; sha256=00`)
	SetClientCert(r)
	if v := r.Header.Get(ClientCert); v != "" {
		t.Fatalf("lb kept a client-supplied header: %q", v)
	}
	r.Header.Set(ClientCert, `subject="CN=forged"; sha256=00`)
	KeepClientCert(r)
	if v := r.Header.Get(ClientCert); v != "" {
		t.Fatalf("internal hop kept a header from a plaintext peer: %q", v)
	}
}

func TestClientCertHeaderSpelledWithUnderscoresIsDropped(t *testing.T) {
	for _, name := range []string{"X_Rampart_Client_Cert", "x-rampart_client-cert", "X-RAMPART-CLIENT-CERT"} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header[name] = []string{`subject="CN=forged"`}
		SetClientCert(r)
		if len(r.Header) != 0 {
			t.Errorf("%s survived the lb: %v", name, r.Header)
		}
		r.Header[name] = []string{`subject="CN=forged"`}
		KeepClientCert(r)
		if len(r.Header) != 0 {
			t.Errorf("%s survived an internal hop: %v", name, r.Header)
		}
	}
}
