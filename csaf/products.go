package csaf

// productDef is one definition of a product id in the product tree.
type productDef struct {
	id, path string
	// helper is the product's product_identification_helper, or nil.
	helper map[string]any
}

// productDefs lists every full product name of the product tree: in
// branches (at any depth), full_product_names and relationships.
func (d *doc) productDefs() []productDef {
	if d.defs != nil {
		return *d.defs
	}
	out := []productDef{}
	defer func() { d.defs = &out }()
	add := func(fpn map[string]any, path string) {
		if fpn != nil {
			out = append(out, productDef{id: str(fpn, "product_id"), path: path, helper: obj(fpn, "product_identification_helper")})
		}
	}
	d.eachBranch(func(b map[string]any, path string) { add(obj(b, "product"), at(path, "product")) })
	for i, f := range arr(d.tree, "full_product_names") {
		fpn, _ := f.(map[string]any)
		add(fpn, at("/product_tree/full_product_names", i))
	}
	for i, r := range arr(d.tree, "relationships") {
		add(obj(r, "full_product_name"), at("/product_tree/relationships", i, "full_product_name"))
	}
	return out
}

// eachBranch calls fn for every branch of the product tree, depth first.
func (d *doc) eachBranch(fn func(b map[string]any, path string)) {
	var walk func(branches []any, path string)
	walk = func(branches []any, path string) {
		for i, e := range branches {
			b, ok := e.(map[string]any)
			if !ok {
				continue
			}
			p := at(path, i)
			fn(b, p)
			walk(arr(b, "branches"), at(p, "branches"))
		}
	}
	walk(arr(d.tree, "branches"), "/product_tree/branches")
}

// ref is a reference to a product or group id and where it is.
type ref struct{ id, path string }

// productRefs lists every reference to a product id outside a full product
// name (6.1.1).
func (d *doc) productRefs() []ref {
	if d.refs != nil {
		return *d.refs
	}
	out := []ref{}
	defer func() { d.refs = &out }()
	list := func(v any, key, path string) {
		for _, p := range strs(v, key) {
			out = append(out, ref{p.s, at(path, key, p.i)})
		}
	}
	for i, g := range arr(d.tree, "product_groups") {
		list(g, "product_ids", at("/product_tree/product_groups", i))
	}
	for i, r := range arr(d.tree, "relationships") {
		for _, k := range []string{"product_reference", "relates_to_product_reference"} {
			if has(r, k) {
				out = append(out, ref{str(r, k), at("/product_tree/relationships", i, k)})
			}
		}
	}
	for vi, v := range d.vulns {
		vp := at("/vulnerabilities", vi)
		for _, k := range statusKeys {
			list(obj(v, "product_status"), k, at(vp, "product_status"))
		}
		for _, k := range []string{"remediations", "threats", "flags"} {
			for i, e := range arr(v, k) {
				list(e, "product_ids", at(vp, k, i))
			}
		}
		for i, e := range arr(v, "scores") {
			list(e, "products", at(vp, "scores", i))
		}
	}
	return out
}

// statusKeys are the product status lists of a vulnerability.
var statusKeys = []string{"first_affected", "first_fixed", "fixed", "known_affected", "known_not_affected", "last_affected", "recommended", "under_investigation"}

func (d *doc) missingProductID() {
	defined := map[string]bool{}
	for _, p := range d.productDefs() {
		defined[p.id] = true
	}
	for _, r := range d.productRefs() {
		if !defined[r.id] {
			d.fail("6.1.1", r.path, "product id %q is not defined in the product tree: define it in a full product name, or correct the reference", r.id)
		}
	}
}

func (d *doc) multipleProductID() {
	first := map[string]string{}
	for _, p := range d.productDefs() {
		if prev, ok := first[p.id]; ok {
			d.fail("6.1.2", at(p.path, "product_id"), "product id %q is already defined at %s: give each product its own id", p.id, prev)
			continue
		}
		first[p.id] = at(p.path, "product_id")
	}
}

func (d *doc) circularProductID() {
	// deps: a product id defined by a relationship -> the ids it is made of.
	deps := map[string][]string{}
	for _, r := range arr(d.tree, "relationships") {
		id := str(obj(r, "full_product_name"), "product_id")
		deps[id] = append(deps[id], str(r, "product_reference"), str(r, "relates_to_product_reference"))
	}
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var cyclic func(id string) bool
	cyclic = func(id string) bool {
		switch state[id] {
		case visiting:
			return true
		case done:
			return false
		}
		state[id] = visiting
		for _, dep := range deps[id] {
			if cyclic(dep) {
				state[id] = done
				return true
			}
		}
		state[id] = done
		return false
	}
	for i, r := range arr(d.tree, "relationships") {
		id := str(obj(r, "full_product_name"), "product_id")
		clear(state)
		if cyclic(id) {
			d.fail("6.1.3", at("/product_tree/relationships", i, "full_product_name", "product_id"), "product id %q is defined through itself (a circle of relationships): a relationship must combine other products", id)
		}
	}
}

func (d *doc) missingGroupID() {
	for vi, v := range d.vulns {
		for _, k := range []string{"remediations", "threats", "flags"} {
			for i, e := range arr(v, k) {
				for _, g := range strs(e, "group_ids") {
					if _, ok := d.groups[g.s]; !ok {
						d.fail("6.1.4", at("/vulnerabilities", vi, k, i, "group_ids", g.i), "product group id %q is not defined in /product_tree/product_groups: define it, or correct the reference", g.s)
					}
				}
			}
		}
	}
}

func (d *doc) multipleGroupID() {
	seen := map[string]bool{}
	for i, g := range arr(d.tree, "product_groups") {
		id := str(g, "group_id")
		if seen[id] {
			d.fail("6.1.5", at("/product_tree/product_groups", i, "group_id"), "product group id %q is defined twice: give each group its own id", id)
		}
		seen[id] = true
	}
}

// statusGroup is the contradiction group of each product status (6.1.6);
// recommended is in none.
var statusGroup = map[string]string{
	"first_affected": "affected", "known_affected": "affected", "last_affected": "affected",
	"known_not_affected": "not affected",
	"first_fixed":        "fixed", "fixed": "fixed",
	"under_investigation": "under investigation",
}

func (d *doc) contradictingStatus() {
	for vi, v := range d.vulns {
		group := map[string]string{}
		ps := obj(v, "product_status")
		for _, k := range statusKeys {
			g, ok := statusGroup[k]
			if !ok {
				continue
			}
			for _, p := range strs(ps, k) {
				if prev, ok := group[p.s]; ok && prev != g {
					d.fail("6.1.6", at("/vulnerabilities", vi, "product_status", k, p.i), "product %q is both %s and %s for this vulnerability: keep it in one status group", p.s, prev, g)
					continue
				}
				group[p.s] = g
			}
		}
	}
}

func (d *doc) multipleScores() {
	for vi, v := range d.vulns {
		seen := map[[2]string]bool{}
		for si, s := range arr(v, "scores") {
			var versions []string
			for _, k := range []string{"cvss_v2", "cvss_v3"} {
				if c := obj(s, k); c != nil {
					versions = append(versions, str(c, "version"))
				}
			}
			for _, p := range strs(s, "products") {
				for _, ver := range versions {
					key := [2]string{p.s, ver}
					if seen[key] {
						d.fail("6.1.7", at("/vulnerabilities", vi, "scores", si, "products", p.i), "product %q already has a CVSS %s score in this vulnerability: give one score per version and product", p.s, ver)
					}
					seen[key] = true
				}
			}
		}
	}
}

// expand returns the product ids an item names directly and through its
// group_ids.
func (d *doc) expand(item any) []string {
	var out []string
	for _, p := range strs(item, "product_ids") {
		out = append(out, p.s)
	}
	for _, g := range strs(item, "group_ids") {
		out = append(out, d.groups[g.s]...)
	}
	return out
}

func (d *doc) remediationReference() {
	d.needsReference("6.1.29", "remediations", "remediation")
}

func (d *doc) flagReference() {
	d.needsReference("6.1.32", "flags", "flag")
}

// needsReference fails every item of /vulnerabilities[]/key that names
// neither product_ids nor group_ids.
func (d *doc) needsReference(test, key, what string) {
	for vi, v := range d.vulns {
		for i, e := range arr(v, key) {
			if !has(e, "product_ids") && !has(e, "group_ids") {
				d.fail(test, at("/vulnerabilities", vi, key, i), "this %s names neither product_ids nor group_ids: say which products it applies to", what)
			}
		}
	}
}

// vexJustifications are the flag labels of section 3.2.3.5.
var vexJustifications = map[string]bool{
	"component_not_present": true, "inline_mitigations_already_exist": true,
	"vulnerable_code_cannot_be_controlled_by_adversary": true,
	"vulnerable_code_not_in_execute_path":               true, "vulnerable_code_not_present": true,
}

func (d *doc) multipleVEXFlags() {
	for vi, v := range d.vulns {
		flagged := map[string]int{}
		for fi, f := range arr(v, "flags") {
			if !vexJustifications[str(f, "label")] {
				continue
			}
			seen := map[string]bool{}
			for _, p := range d.expand(f) {
				if seen[p] {
					continue
				}
				seen[p] = true
				if prev, ok := flagged[p]; ok {
					d.fail("6.1.33", at("/vulnerabilities", vi, "flags", fi), "product %q already has a VEX justification in flag %d: give each product one justification", p, prev)
					continue
				}
				flagged[p] = fi
			}
		}
	}
}
