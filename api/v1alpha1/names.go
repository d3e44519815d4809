package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Limits on what names flow into.
const (
	// MaxNameLength is the limit of an object name (a DNS-1123 subdomain).
	MaxNameLength = validation.DNS1123SubdomainMaxLength
	// MaxLabelValueLength is the limit of a label value.
	MaxLabelValueLength = validation.LabelValueMaxLength
	// hashLength is the hex digits of sha256 a shortened name ends with.
	hashLength = 16
)

// FitName makes a generated object name (often joined from other names)
// fit the 253-character limit. A longer name keeps its head and ends with
// a hash of the whole, so two long names never fit to the same one; it
// never starts with '-' or '.'.
func FitName(name string) string {
	return strings.TrimLeft(Fit(name, MaxNameLength), "-.")
}

// LabelValue fits a name (an object name, up to 253 characters, or any
// string such as a user name) into a label value: at most 63 characters
// of [A-Za-z0-9-_.], starting and ending with a letter or digit. A value
// that is already valid is returned unchanged, so selectors on short
// names work; any other keeps a cleaned head and ends with a hash of the
// whole, so distinct names stay distinct.
func LabelValue(name string) string {
	if len(validation.IsValidLabelValue(name)) == 0 {
		return name
	}
	clean := strings.Trim(strings.Map(labelRune, name), "-_.")
	head := strings.TrimRight(clean[:min(len(clean), MaxLabelValueLength-1-hashLength)], "-_.")
	if head == "" {
		return hashOf(name)
	}
	return head + "-" + hashOf(name)
}

// maxFileName is the longest file name (one path element) Linux file
// systems take.
const maxFileName = 255

// FileName makes one path element of name and ext that the file system
// takes: object names run to 253 characters, and names joined from two
// of them further; a longer one keeps its head and a hash of the whole.
func FileName(name, ext string) string {
	return Fit(name, maxFileName-len(ext)) + ext
}

// Fit shortens s to at most max bytes (max > 17): s itself when it fits,
// else a head not ending in '-', '_' or '.', then '-' and 16 hex digits of
// a hash of s — distinct long strings stay distinct.
func Fit(s string, max int) string {
	if len(s) <= max {
		return s
	}
	head := strings.TrimRight(s[:max-1-hashLength], "-_.")
	if head == "" {
		return hashOf(s)
	}
	return head + "-" + hashOf(s)
}

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:hashLength]
}

func labelRune(r rune) rune {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		return r
	}
	return '-'
}
