package items

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// TokenHash is the SHA-256 of a token: what stores keep instead of the
// token itself.
type TokenHash [sha256.Size]byte

// tokenPrefix marks our tokens so that secret scanners and people can tell
// them apart from other credentials.
const tokenPrefix = "itm_"

// NewToken returns a new random token (256 bits) and its hash. The token
// is shown once to whoever asked for it and never stored.
func NewToken() (token string, hash TokenHash) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	token = tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}

// HashToken returns the hash under which a token is stored.
func HashToken(token string) TokenHash {
	return sha256.Sum256([]byte(token))
}
