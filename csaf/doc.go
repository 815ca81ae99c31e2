// Package csaf validates CSAF 2.0 documents offline: the OASIS JSON schema
// (embedded by package csafschemas, with the FIRST CVSS schemas it
// references), every mandatory test of section 6.1 of the standard (6.1.1
// to 6.1.33 with the profile tests 6.1.27.1 to 6.1.27.11), every optional
// test of section 6.2 (6.2.1 to 6.2.20) and the informative tests of 6.3
// that need neither the network nor a dictionary.
//
// Validate reads one document and returns a Report: each Problem names the
// test that found it ("schema" for the JSON schema, "6.1.x" for a mandatory
// test, "6.2.x" or "6.3.x" for the others), a JSON pointer into the
// document and what to correct. A document is valid when the report has no
// problem of severity error. As the standard says, a failure of 6.1 is an
// error; those of 6.2 and 6.3 are warnings.
//
// The tests are written from the text of the standard and checked against
// the OASIS conformance data (csaf_2.0/test/validator/data): each listed
// failure document fails its test and each listed valid one passes it
// (TestOASISConformance).
// 6.1.11 uses the CWE catalogue pinned in cwe.tsv (CWE 4.20;
// testdata/CWE-SOURCE.md says where it comes from). Nothing is fetched
// over the network.
package csaf
