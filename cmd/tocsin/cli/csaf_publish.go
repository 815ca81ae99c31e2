package cli

import "github.com/spf13/cobra"

func newCSAFPublishCmd(g *globals) *cobra.Command {
	return advisoryPublishCmd(g, "publish --file DOC.json [--tlp green|amber] [--sectors ...] [--lane ...]",
		"Publish a CSAF 2.0 document as an advisory, signed with your key (liaison, vendors)",
		`Publish a CSAF 2.0 document, as published, to sectors (all when --sectors is
empty; amber needs sectors): 'tocsin advisory publish --file DOC.json' by its
own name. Its TLP is the document's document.distribution.tlp (TLP 1.0's
WHITE is CLEAR); --tlp is required when the document has none and may
otherwise only make it more restrictive. The title defaults to
document.title, the text is the document's summary note. The router
validates the document (docs/CSAF.md, "Routing") and refuses a schema
failure or an unusable 6.1 failure with its test id; every other failure
routes, and --wait prints those warnings (--json: warnings, a list of
{test, path, message}, the first 100, and warning_count). The liaison may
publish any; a vendor only documents whose document.publisher.namespace is
the one registered for it (else publisher-mismatch); the cluster refuses
anyone else's.`)
}
