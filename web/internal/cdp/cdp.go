// Package cdp drives a headless Chromium for browser tests over the
// DevTools protocol on a pipe (--remote-debugging-pipe: commands on the
// browser's fd 3, answers and events on its fd 4, each JSON message ended
// by a NUL byte), so no websocket and no Go module beyond the standard
// library are needed.
package cdp

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// ErrNoBrowser is returned when no Chromium is installed.
var ErrNoBrowser = errors.New("no chromium found: install it (make chromium, or apt-get install -y chromium) or set CHROMIUM to its path")

// Find returns the Chromium to run: $CHROMIUM, else chromium,
// chromium-browser or google-chrome on PATH.
func Find() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("CHROMIUM=%s: %w", p, err)
		}
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoBrowser
}

// Browser is a running headless Chromium.
type Browser struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	dir  string
	done chan struct{}

	mu      sync.Mutex
	next    int
	pending map[int]chan reply
	err     error
}

// reply is a command's answer.
type reply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Launch starts Chromium headless with a fresh profile.
func Launch(ctx context.Context) (*Browser, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tocsin-chromium-")
	if err != nil {
		return nil, err
	}
	toBrowser, ourEnd, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	fromBrowser, theirEnd, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--remote-debugging-pipe",
		"--user-data-dir="+dir, "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--mute-audio", "--hide-scrollbars", "about:blank")
	cmd.ExtraFiles = []*os.File{toBrowser, theirEnd}
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	toBrowser.Close()
	theirEnd.Close()
	b := &Browser{cmd: cmd, in: ourEnd, dir: dir, done: make(chan struct{}), pending: map[int]chan reply{}}
	go b.read(fromBrowser)
	var v struct{ Product string }
	if err := b.call(ctx, "", "Browser.getVersion", nil, &v); err != nil {
		b.Close()
		return nil, fmt.Errorf("chromium did not answer: %w", err)
	}
	return b, nil
}

// read dispatches the browser's answers until the pipe closes.
func (b *Browser) read(r io.ReadCloser) {
	defer close(b.done)
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		msg, err := br.ReadBytes(0)
		if err != nil {
			b.mu.Lock()
			b.err = fmt.Errorf("chromium pipe: %w", err)
			for id, ch := range b.pending {
				close(ch)
				delete(b.pending, id)
			}
			b.mu.Unlock()
			return
		}
		var m struct {
			ID int `json:"id"`
			reply
		}
		if json.Unmarshal(msg[:len(msg)-1], &m) != nil || m.ID == 0 {
			continue // an event
		}
		b.mu.Lock()
		ch := b.pending[m.ID]
		delete(b.pending, m.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- m.reply
		}
	}
}

// call sends a command (to a page's session when session is set) and
// decodes its result into out.
func (b *Browser) call(ctx context.Context, session, method string, params, out any) error {
	b.mu.Lock()
	if b.err != nil {
		b.mu.Unlock()
		return b.err
	}
	b.next++
	id := b.next
	ch := make(chan reply, 1)
	b.pending[id] = ch
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	data, _ := json.Marshal(msg)
	_, err := b.in.Write(append(data, 0))
	b.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	case r, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: chromium went away", method)
		}
		if r.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, r.Error.Message, r.Error.Code)
		}
		if out != nil && len(r.Result) > 0 {
			return json.Unmarshal(r.Result, out)
		}
		return nil
	}
}

// Close stops the browser and removes its profile.
func (b *Browser) Close() {
	_ = b.in.Close()
	select {
	case <-b.done:
	case <-time.After(3 * time.Second):
		_ = b.cmd.Process.Kill()
	}
	_ = b.cmd.Wait()
	_ = os.RemoveAll(b.dir)
}

// Page is one tab.
type Page struct {
	b       *Browser
	session string
}

// NewPage opens a tab of the given viewport (CSS pixels) in a browser
// context of its own (its own cookies: one user per page); mobile
// emulates a phone (touch, device scale 2).
func (b *Browser) NewPage(ctx context.Context, width, height int, mobile bool) (*Page, error) {
	var bc struct{ BrowserContextID string }
	if err := b.call(ctx, "", "Target.createBrowserContext", map[string]any{"disposeOnDetach": true}, &bc); err != nil {
		return nil, err
	}
	var t struct{ TargetID string }
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank", "browserContextId": bc.BrowserContextID}, &t); err != nil {
		return nil, err
	}
	var s struct{ SessionID string }
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": t.TargetID, "flatten": true}, &s); err != nil {
		return nil, err
	}
	p := &Page{b: b, session: s.SessionID}
	scale := 1
	if mobile {
		scale = 2
	}
	for _, c := range []struct {
		method string
		params any
	}{
		{"Page.enable", nil},
		{"Runtime.enable", nil},
		{"Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile}},
	} {
		if err := b.call(ctx, p.session, c.method, c.params, nil); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Navigate loads url and waits for the document to be complete.
func (p *Page) Navigate(ctx context.Context, url string) error {
	var r struct{ ErrorText string }
	if err := p.b.call(ctx, p.session, "Page.navigate", map[string]any{"url": url}, &r); err != nil {
		return err
	}
	if r.ErrorText != "" {
		return fmt.Errorf("navigate %s: %s", url, r.ErrorText)
	}
	return p.WaitFor(ctx, `document.readyState === "complete"`)
}

// Eval evaluates a JavaScript expression (awaiting a promise) and decodes
// its value into out (may be nil).
func (p *Page) Eval(ctx context.Context, expr string, out any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	err := p.b.call(ctx, p.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &r)
	if err != nil {
		return err
	}
	if e := r.ExceptionDetails; e != nil {
		return fmt.Errorf("javascript: %s %s", e.Text, e.Exception.Description)
	}
	if out != nil && len(r.Result.Value) > 0 {
		return json.Unmarshal(r.Result.Value, out)
	}
	return nil
}

// WaitFor polls a JavaScript condition until it is true or ctx ends.
func (p *Page) WaitFor(ctx context.Context, cond string) error {
	for {
		var ok bool
		err := p.Eval(ctx, "!!("+cond+")", &ok)
		if err == nil && ok {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return fmt.Errorf("waiting for %s: %w", cond, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Key presses a key: "Tab", "Enter", "Escape", or a one-character key.
func (p *Page) Key(ctx context.Context, key string) error {
	codes := map[string]int{"Tab": 9, "Enter": 13, "Escape": 27, " ": 32}
	ev := map[string]any{"key": key, "code": key, "windowsVirtualKeyCode": codes[key]}
	if key == "Enter" {
		ev["text"] = "\r"
	}
	down := map[string]any{"type": "keyDown"}
	for k, v := range ev {
		down[k] = v
	}
	if err := p.b.call(ctx, p.session, "Input.dispatchKeyEvent", down, nil); err != nil {
		return err
	}
	ev["type"] = "keyUp"
	delete(ev, "text")
	return p.b.call(ctx, p.session, "Input.dispatchKeyEvent", ev, nil)
}

// Type inserts text at the focused element, as typing would.
func (p *Page) Type(ctx context.Context, text string) error {
	return p.b.call(ctx, p.session, "Input.insertText", map[string]any{"text": text}, nil)
}

// Screenshot saves the page (beyond the viewport) as a PNG.
func (p *Page) Screenshot(ctx context.Context, path string) error {
	var r struct{ Data string }
	if err := p.b.call(ctx, p.session, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &r); err != nil {
		return err
	}
	data, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
