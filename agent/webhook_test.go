package agent

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// TestWebhookSignatureAsDocumented: the signature is "sha256=" and the
// lower-case hex HMAC-SHA256 of the body's exact bytes, keyed by the
// secret file's content without surrounding whitespace, so a secret file
// with or without its trailing newline signs alike (docs/AGENT.md, "The
// webhook's signature"). The vector is Python's
// hmac.new(b"0123456789abcdef0123", body, hashlib.sha256).hexdigest().
func TestWebhookSignatureAsDocumented(t *testing.T) {
	const body = `{"schema_version":1,"id":"x"}`
	if got := Sign([]byte("0123456789abcdef0123"), []byte(body)); got != "sha256=7423972be1078e3f0ffc81fbb9510c6562988aeb9ae4eb9f3a6bcb558411c47d" {
		t.Fatalf("Sign = %s", got)
	}
	dir := t.TempDir()
	var secrets [][]byte
	for i, content := range []string{"0123456789abcdef0123", "0123456789abcdef0123\n", "0123456789abcdef0123\r\n"} {
		path := filepath.Join(dir, string(rune('a'+i)))
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Config{WebhookSecretFile: path}.webhookSecret()
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, s)
	}
	for _, s := range secrets[1:] {
		if string(s) != string(secrets[0]) {
			t.Fatalf("secret files differing in a trailing newline give %q and %q", secrets[0], s)
		}
	}

	// What is posted is the record's JSON, no newline, signed as above.
	type post struct {
		sig, id string
		body    []byte
	}
	got := make(chan post, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- post{r.Header.Get(HeaderSignature), r.Header.Get(HeaderMessageID), b}
	}))
	defer srv.Close()
	w, err := OpenWebhook(WebhookOptions{URL: srv.URL, Secret: secrets[1], SpoolDir: t.TempDir()}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r := rec("m1")
	if err := w.Write(context.Background(), []*Record{r}); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(r)
	select {
	case p := <-got:
		if string(p.body) != string(want) || p.id != "m1" || p.sig != Sign([]byte("0123456789abcdef0123"), want) {
			t.Fatalf("posted %s with %s (id %s); want the record's JSON signed with the trimmed secret", p.body, p.sig, p.id)
		}
		checkRecordLine(t, p.body)
	case <-time.After(10 * time.Second):
		t.Fatal("nothing posted")
	}
}
