// Package csaf validates CSAF 2.0 documents offline: the OASIS JSON schema
// (embedded by package csafschemas, with the FIRST CVSS schemas it
// references) and every mandatory test of section 6.1 of the standard,
// 6.1.1 to 6.1.33 with the profile tests 6.1.27.1 to 6.1.27.11.
//
// Validate reads one document and returns a Report: each Problem names the
// test that found it ("schema" for the JSON schema, "6.1.x" for a mandatory
// test), a JSON pointer into the document and what to correct. A document
// is valid when the report has no problem of severity error; every problem
// of section 6.1 is an error, as the standard says ("a program MUST handle
// a test failure as an error").
//
// The tests are written from the text of the standard and checked against
// the OASIS conformance data (csaf_2.0/test/validator/data): each listed
// failure document fails its test and each listed valid one passes it
// (TestOASISConformance). 6.1.11 uses the CWE catalogue pinned in cwe.tsv
// (CWE 4.20; testdata/CWE-SOURCE.md says where it comes from). Nothing is
// fetched over the network.
package csaf
