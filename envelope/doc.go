// Package envelope signs, encodes, decodes and verifies tocsinv1.Envelope,
// the signed wrapper every Tocsin message travels in.
//
// # Signing
//
// The signature is Ed25519 (RFC 8032, pure, not Ed25519ph) by the key named
// by key_id over the 32-byte digest below; the digest bytes are the message
// Ed25519 signs. By default the key is the NKey seed of the member's NATS
// .creds file and key_id is its public key in NKey user encoding ("U...").
//
//	digest = SHA-256( "tocsin/v1/envelope" 0x00
//	                  F(id) F(kind) F(sender) F(key_id) F(time) F(payload) F(via) )
//	F(x)   = len(x) as an 8-byte big-endian unsigned integer, then x
//
// where id, sender, key_id and via are their UTF-8 bytes (an unset string is
// empty); kind is its enum number as an 8-byte big-endian two's-complement
// integer; time is empty when unset, else its seconds as an 8-byte and its
// nanos as a 4-byte big-endian two's-complement integer (12 bytes); payload
// is the bytes exactly as carried. The signature field is not covered. Every
// field is length-prefixed, so no two different envelopes share a digest
// input, and the domain prefix keeps the signature from being valid for
// anything else signed with the same key.
//
// Test vector (TestDigestVector): id "01J00000000000000000000000", kind 1,
// sender "st-mary", key_id
// "UCFIRY65OQE7DFP5KLNS2PF2LVZMUZYJX4OZIEQ36N2IQANUB5XVZ45L", time
// 1735689600 s 5 ns, payload 0a 01 78, no via: the digest is
// 85aa20023c08549263cbdf3398c44bda180f9e522ea81b430be64b6f6e3692a4, and
// with the key whose raw Ed25519 seed is 32 bytes of 0x01 the signature is
// 75623d0b5619fea128233163b761f2db4f3b614b67961db38fbe999731d8c1bd
// 60cdab1e6c729cc4b72e96d17c83a4adf80329eed08652d20866b060938fe602.
//
// # Checks and where they happen
//
// Decode refuses oversized input (OVERSIZED) and anything that is not a well
// formed envelope (MALFORMED, naming the field). Verifier.Verify checks the
// sender, its revocation, the key and its validity at the envelope's time,
// and the signature; it never compares the time with a clock. Two checks
// belong to ingest only: CheckSubjectSender (the subject names the sender)
// and CheckSkew (the time is close to the JetStream stream's timestamp).
// Every refusal is a *codes.Error, so errors.Is(err, codes.Err(code)) works.
//
// A revoked member is refused whatever its envelope's time: the time is the
// sender's own claim. What was routed before the revocation has been
// delivered; a consumer catching up after it refuses the rest.
package envelope
