// Package socfmt writes and reads the event formats SOC tools take
// natively over syslog: ArcSight's CEF (version 0), IBM QRadar's LEEF 2.0,
// and the RFC 5424 syslog message around them, framed for a stream by
// RFC 6587 octet counting (RFC 5425 over TLS). Each writer escapes as its
// specification says, and each reader is strict: it rejects what the
// specification does not allow, so a round trip through both proves the
// output is well formed, not just that it parses somewhere.
//
// The escaping, as the specifications give it:
//
//	CEF header      \ -> \\   | -> \|   (line breaks are not allowed: a space)
//	CEF extension   \ -> \\   = -> \=   LF -> \n   CR -> \r   (| as is)
//	LEEF 2.0        no escape exists: the attribute delimiter (a tab by
//	                default), LF and CR in a value become a space; = | \
//	                pass as they are (a reader splits at the first =)
//	RFC 5424        header fields are printable US-ASCII without spaces;
//	                SD-PARAM values escape " \ and ]; MSG is as is
package socfmt
