package cmw

import "strconv"

// Text syntaxes used by CMW: the Content-Type ABNF of RFC 9193 (record
// media types), the absolute-URI form of RFC 3986 and the dotted OID
// regexp of the draft (collection types).

// checkMediaType checks s against RFC 9193 Content-Type:
//
//	Content-Type    = Media-Type-Name *( *SP ";" *SP parameter )
//	parameter       = token "=" ( token / quoted-string )
//	Media-Type-Name = type-name "/" subtype-name    (restricted-name, RFC 6838)
func checkMediaType(s string) error {
	if !validMediaType(s) {
		return malformed("record type", "media type (RFC 9193 Content-Type)", strconv.Quote(s))
	}
	return nil
}

func validMediaType(s string) bool {
	i := restrictedName(s)
	if i == 0 || i >= len(s) || s[i] != '/' {
		return false
	}
	i++
	n := restrictedName(s[i:])
	if n == 0 {
		return false
	}
	i += n
	for i < len(s) {
		i = skipSpaces(s, i)
		if i >= len(s) || s[i] != ';' {
			return false
		}
		i = skipSpaces(s, i+1)
		n = tokenLen(s[i:])
		if n == 0 {
			return false
		}
		i += n
		if i >= len(s) || s[i] != '=' {
			return false
		}
		i++
		if i < len(s) && s[i] == '"' {
			n = quotedStringLen(s[i:])
		} else {
			n = tokenLen(s[i:])
		}
		if n == 0 {
			return false
		}
		i += n
	}
	return true
}

func skipSpaces(s string, i int) int {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

func isAlpha(c byte) bool { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool {
	return isDigit(c) || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f')
}

// restrictedName returns the length of the RFC 6838 restricted-name at the
// start of s (1 to 127 characters), or 0 if there is none.
func restrictedName(s string) int {
	if len(s) == 0 || !(isAlpha(s[0]) || isDigit(s[0])) {
		return 0
	}
	i := 1
	for i < len(s) && i < 127 && isRestrictedNameChar(s[i]) {
		i++
	}
	return i
}

func isRestrictedNameChar(c byte) bool {
	if isAlpha(c) || isDigit(c) {
		return true
	}
	switch c {
	case '!', '#', '$', '&', '-', '^', '_', '.', '+':
		return true
	}
	return false
}

// tokenLen returns the length of the RFC 9110 token at the start of s.
func tokenLen(s string) int {
	i := 0
	for i < len(s) && isTchar(s[i]) {
		i++
	}
	return i
}

func isTchar(c byte) bool {
	if isAlpha(c) || isDigit(c) {
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// quotedStringLen returns the length of the quoted-string at the start of s
// (including both quotes), or 0 if s does not start with a complete one.
func quotedStringLen(s string) int {
	if len(s) < 2 || s[0] != '"' {
		return 0
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			// quoted-pair = "\" ( SP / VCHAR )
			if i+1 >= len(s) || s[i+1] < 0x20 || s[i+1] > 0x7e {
				return 0
			}
			i++
		case c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e):
			// qdtext
		default:
			return 0
		}
	}
	return 0
}

// checkCollectionType checks a "__cmwc_t" value: an absolute URI (RFC 3986
// section 4.3) or an absolute dotted OID.
func checkCollectionType(s string) error {
	if !validAbsoluteURI(s) && !validOID(s) {
		return malformed("collection type (__cmwc_t)", "absolute URI or dotted OID", strconv.Quote(s))
	}
	return nil
}

// validOID matches the draft's oid regexp ([0-2])((\.0)|(\.[1-9][0-9]*))*
// against the whole string.
func validOID(s string) bool {
	if len(s) == 0 || s[0] < '0' || s[0] > '2' {
		return false
	}
	i := 1
	for i < len(s) {
		if s[i] != '.' || i+1 >= len(s) || !isDigit(s[i+1]) {
			return false
		}
		i++
		if s[i] == '0' {
			i++
			continue
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return true
}

// validAbsoluteURI checks absolute-URI = scheme ":" hier-part [ "?" query ]:
// the scheme syntax and that the rest uses only URI characters (unreserved,
// reserved except "#", since a fragment is not allowed, and
// percent-encodings). It does not check the finer structure of hier-part.
func validAbsoluteURI(s string) bool {
	if len(s) == 0 || !isAlpha(s[0]) {
		return false
	}
	i := 1
	for i < len(s) && (isAlpha(s[i]) || isDigit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.') {
		i++
	}
	if i >= len(s) || s[i] != ':' {
		return false
	}
	for i++; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
			continue
		}
		if !isURIChar(c) {
			return false
		}
	}
	return true
}

func isURIChar(c byte) bool {
	if isAlpha(c) || isDigit(c) {
		return true
	}
	switch c {
	case '-', '.', '_', '~', // unreserved
		':', '/', '?', '[', ']', '@', // gen-delims except '#'
		'!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=': // sub-delims
		return true
	}
	return false
}
