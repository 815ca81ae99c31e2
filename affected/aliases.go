package affected

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"
)

// LoadAliases reads the member's own renamings: a YAML list of {vendor,
// product, as_vendor, as_product}, added to DefaultAliases by New. An
// entry without vendor or as_vendor is an error naming it.
func LoadAliases(path string) ([]Alias, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: aliases: %v", ErrInventory, err)
	}
	var aliases []Alias
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&aliases); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: aliases %s: %v; want a list of {vendor, product, as_vendor, as_product}", ErrInventory, path, err)
	}
	for i, a := range aliases {
		if a.Vendor == "" || a.AsVendor == "" {
			return nil, fmt.Errorf("%w: aliases %s: entry %d needs vendor and as_vendor", ErrInventory, path, i+1)
		}
	}
	return aliases, nil
}
