// Command vulndb builds an offline Go vulnerability database for govulncheck
// from the golang.org/x/vulndb module that tools/go.mod pins: the module's
// data/osv/GO-*.json entries, laid out as the database's "v1" API
// (https://go.dev/security/vuln/database#api) that `govulncheck -db file://DIR`
// reads:
//
//	DIR/index/db.json       {"modified": ...}
//	DIR/index/modules.json  every affected module, its vulns and their latest fix
//	DIR/index/vulns.json    every vuln's ID, modified time and aliases
//	DIR/ID/GO-YYYY-NNNN.json  the entries, byte for byte
//
// The indexes are computed as x/vulndb's own database writer computes them
// (internal/database), so the same module version always gives the same bytes.
// The module is fetched with `go mod download` in this module (tools/), so its
// hash is checked against tools/go.sum; nothing else is read from the network.
//
// Usage (from the repository root; make vulncheck does this):
//
//	go -C tools run ./vulndb -out $PWD/bin/vulndb
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/semver"
)

const vulndbModule = "golang.org/x/vulndb"

func main() {
	out := flag.String("out", "", "directory to write the database to (replaced)")
	src := flag.String("src", "", "directory of OSV entries to read instead of the pinned module's data/osv (for tests)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("vulndb: ")
	if *out == "" || flag.NArg() > 0 {
		log.Fatal("usage: vulndb -out DIR [-src OSVDIR]")
	}
	dir, stamp := *src, time.Time{}
	if dir == "" {
		m, err := download()
		if err != nil {
			log.Fatal(err)
		}
		dir, stamp = filepath.Join(m.Dir, "data", "osv"), m.Time
		log.Printf("%s@%s (%s)", vulndbModule, m.Version, stamp.Format(time.RFC3339))
	}
	n, err := build(dir, *out, stamp)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%d entries in %s", n, *out)
}

type module struct {
	Version, Dir string
	Time         time.Time
}

// download fetches the pinned golang.org/x/vulndb into the module cache
// (checked against go.sum) and returns where it is and its commit time.
func download() (module, error) {
	var m module
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	cmd := exec.Command(goCmd, "mod", "download", "-json", vulndbModule)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	var dl struct{ Version, Dir, Info, Error string }
	if jerr := json.Unmarshal(b, &dl); jerr != nil || dl.Error != "" || err != nil {
		return m, fmt.Errorf("go mod download %s (is it still required in tools/go.mod? `go mod tidy` drops it, as nothing imports it): %v %v %s",
			vulndbModule, err, jerr, dl.Error)
	}
	info, err := os.ReadFile(dl.Info)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(info, &m); err != nil {
		return m, fmt.Errorf("%s: %v", dl.Info, err)
	}
	m.Dir = dl.Dir
	return m, nil
}

// entry is the part of an OSV entry that the indexes need.
type entry struct {
	ID       string          `json:"id"`
	Modified json.RawMessage `json:"modified"`
	Aliases  []string        `json:"aliases,omitempty"`
	Affected []struct {
		Module struct {
			Path string `json:"name"`
		} `json:"package"`
		Ranges []osvRange `json:"ranges,omitempty"`
	} `json:"affected"`
}

type osvRange struct {
	Type   string `json:"type"`
	Events []struct {
		Introduced string `json:"introduced,omitempty"`
		Fixed      string `json:"fixed,omitempty"`
	} `json:"events"`
}

type moduleVuln struct {
	ID       string          `json:"id"`
	Modified json.RawMessage `json:"modified"`
	Fixed    string          `json:"fixed,omitempty"`
}

type moduleMeta struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

type vulnMeta struct {
	ID       string          `json:"id"`
	Modified json.RawMessage `json:"modified"`
	Aliases  []string        `json:"aliases,omitempty"`
}

var idRE = regexp.MustCompile(`^GO-\d{4}-\d{4,}$`)

// build reads every OSV entry in src and writes the v1 database to out.
// dbTime, if later than every entry's modified time, is the database's.
func build(src, out string, dbTime time.Time) (int, error) {
	files, err := filepath.Glob(filepath.Join(src, "*.json"))
	if err != nil {
		return 0, err
	}
	if len(files) == 0 {
		return 0, fmt.Errorf("no OSV entries in %s", src)
	}
	slices.Sort(files)

	tmp := out + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Join(tmp, "ID"), 0o755); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Join(tmp, "index"), 0o755); err != nil {
		return 0, err
	}

	modules := map[string]*moduleMeta{}
	var vulns []vulnMeta
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return 0, err
		}
		var e entry
		if err := json.Unmarshal(b, &e); err != nil {
			return 0, fmt.Errorf("%s: %v", f, err)
		}
		if !idRE.MatchString(e.ID) || filepath.Base(f) != e.ID+".json" {
			return 0, fmt.Errorf("%s: entry's id is %q", f, e.ID)
		}
		var mod time.Time
		if err := json.Unmarshal(e.Modified, &mod); err != nil {
			return 0, fmt.Errorf("%s: modified: %v", f, err)
		}
		if mod.After(dbTime) {
			dbTime = mod
		}
		vulns = append(vulns, vulnMeta{ID: e.ID, Modified: e.Modified, Aliases: e.Aliases})
		for _, a := range e.Affected {
			if a.Module.Path == "" {
				return 0, fmt.Errorf("%s: an affected package without a name", f)
			}
			m := modules[a.Module.Path]
			if m == nil {
				m = &moduleMeta{Path: a.Module.Path, Vulns: []moduleVuln{}}
				modules[a.Module.Path] = m
			}
			m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: e.Modified, Fixed: latestFixed(a.Ranges)})
		}
		if err := os.WriteFile(filepath.Join(tmp, "ID", e.ID+".json"), b, 0o644); err != nil {
			return 0, err
		}
	}

	paths := make([]string, 0, len(modules))
	for p := range modules {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	index := make([]*moduleMeta, 0, len(paths))
	for _, p := range paths {
		m := modules[p]
		slices.SortStableFunc(m.Vulns, func(a, b moduleVuln) int { return strings.Compare(a.ID, b.ID) })
		index = append(index, m)
	}

	for name, v := range map[string]any{
		"db": struct {
			Modified time.Time `json:"modified"`
		}{dbTime.UTC()},
		"modules": index,
		"vulns":   vulns,
	} {
		b, err := json.Marshal(v)
		if err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(tmp, "index", name+".json"), b, 0o644); err != nil {
			return 0, err
		}
	}

	if err := os.RemoveAll(out); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	return len(vulns), os.Rename(tmp, out)
}

// latestFixed is the latest fixed version in ranges, or "" if the
// vulnerability was introduced again after it: x/vulndb's
// osvutils.LatestFixed, which govulncheck uses to skip modules whose version
// is at or past the fix without reading their entries.
func latestFixed(ranges []osvRange) string {
	var latest string
	for _, r := range ranges {
		if r.Type != "SEMVER" {
			continue
		}
		for _, e := range r.Events {
			if e.Fixed != "" && before(latest, e.Fixed) {
				latest = e.Fixed
			}
		}
		for _, e := range r.Events {
			if e.Introduced != "" && e.Introduced != "0" && before(latest, e.Introduced) {
				latest = ""
				break
			}
		}
	}
	return latest
}

// before reports whether OSV version v < w ("" is before every version).
func before(v, w string) bool {
	if v == "" {
		return w != ""
	}
	return semver.Compare("v"+v, "v"+w) < 0
}
