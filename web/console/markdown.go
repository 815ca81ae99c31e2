package console

import (
	"bytes"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer/html"
)

// markdown renders an advisory's Markdown (CommonMark with GitHub's
// tables, strikethrough and autolinks) for the page. It is safe to put
// into the page as HTML: goldmark's default renderer leaves raw HTML out
// ("<!-- raw HTML omitted -->") and drops the destination of a link or
// image whose URL is dangerous (javascript:, vbscript:, file:, data: but
// for images), and every text is escaped. The console's
// Content-Security-Policy (no inline script, images only from the node)
// is the second wall.
var markdown = goldmark.New(
	goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.Linkify),
	goldmark.WithRendererOptions(html.WithHardWraps()),
)

// renderMarkdown returns src as HTML; "" for an empty text.
func renderMarkdown(src string) string {
	if src == "" {
		return ""
	}
	var out bytes.Buffer
	if err := markdown.Convert([]byte(src), &out); err != nil {
		// goldmark fails only when writing to out fails: never for a buffer.
		return ""
	}
	return out.String()
}
