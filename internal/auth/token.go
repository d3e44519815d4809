// Package auth authenticates bearer tokens and authorises requests by role
// bindings per namespace.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"strings"
)

// TokenPrefix starts every Kiln token, so secret scanners can find leaks.
const TokenPrefix = "kiln_"

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewToken returns a token's name (its public id) and the full bearer token.
// Only a hash of the secret part is ever stored.
func NewToken() (name, token string, err error) {
	id := make([]byte, 6)
	sec := make([]byte, 24)
	if _, err = rand.Read(id); err != nil {
		return "", "", err
	}
	if _, err = rand.Read(sec); err != nil {
		return "", "", err
	}
	name = "tok-" + hex.EncodeToString(id)
	return name, TokenPrefix + hex.EncodeToString(id) + "_" + strings.ToLower(b32.EncodeToString(sec)), nil
}

// ParseToken splits a bearer token into the token object's name and the
// secret.
func ParseToken(token string) (name, secret string, ok bool) {
	rest, ok := strings.CutPrefix(token, TokenPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 12 || secret == "" {
		return "", "", false
	}
	return "tok-" + id, secret, true
}

// HashSecret is the stored form of a token's secret.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// SecretMatches compares a presented secret with a stored hash in constant
// time.
func SecretMatches(secret, hash string) bool {
	return subtle.ConstantTimeCompare([]byte(HashSecret(secret)), []byte(hash)) == 1
}

// ServiceAccountPrefix starts the user name of a service account identity.
const ServiceAccountPrefix = "system:serviceaccount:"

// ServiceAccountUser returns the identity name of a service account.
func ServiceAccountUser(ns, name string) string { return ServiceAccountPrefix + ns + ":" + name }

// ParseServiceAccount splits a service account identity name.
func ParseServiceAccount(user string) (ns, name string, ok bool) {
	rest, ok := strings.CutPrefix(user, ServiceAccountPrefix)
	if !ok {
		return "", "", false
	}
	ns, name, ok = strings.Cut(rest, ":")
	return ns, name, ok && ns != "" && name != ""
}
