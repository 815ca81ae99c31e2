package subjects

import "strings"

// A supercluster whose regions each hold their own stream set
// (docs/REGIONS.md) spells every subject of a region's streams with the
// region after the prefix, and names each stream for its region:
//
//	tocsin.r.<region>.ingest.<kind>.<sender>   INGEST-<region>
//	tocsin.r.<region>.sector.<sector>.<lane>   SECTORS-<region>
//	tocsin.r.<region>.inbox.<member>           INBOX-<region>
//
// One domain and one account hold every region's streams, so both the
// subjects and the names must differ between regions. With region "" (a
// single cluster, or a supercluster with one streams region) every name
// and subject is the one of subjects.go, unchanged.

// regionToken is the second token of a region's subjects.
const regionToken = "r"

// AnyRegion is the region token that matches every region in a filter.
const AnyRegion = "*"

// InRegion returns subject, a Tocsin subject or filter ("tocsin.sector.x.>"),
// as region's stream set spells it ("tocsin.r.<region>.sector.x.>"); region
// AnyRegion makes a filter of every region's. With region "" it is subject.
func InRegion(region, subject string) string {
	if region == "" {
		return subject
	}
	return Prefix + "." + regionToken + "." + region + strings.TrimPrefix(subject, Prefix)
}

// OutOfRegion returns the region of a region's subject and the subject
// without it ("east", "tocsin.sector.x.y" for "tocsin.r.east.sector.x.y");
// a subject of no region comes back as it is, with region "".
func OutOfRegion(subject string) (region, plain string) {
	rest, ok := strings.CutPrefix(subject, Prefix+"."+regionToken+".")
	if !ok {
		return "", subject
	}
	region, tail, ok := strings.Cut(rest, ".")
	if !ok || region == "" || tail == "" {
		return "", subject
	}
	return region, Prefix + "." + tail
}

// RegionStream names the stream (or bucket) name of region's stream set:
// "INGEST-east". With region "" it is name.
func RegionStream(name, region string) string {
	if region == "" {
		return name
	}
	return name + "-" + region
}

// CopiesStreams are the streams members read: the router's copies. In a
// supercluster of stream sets each region's captures its own router's
// copies and sources every other region's, so that a member reads them all
// from its own region.
var CopiesStreams = []string{StreamSectors, StreamInbox, StreamRejections}
