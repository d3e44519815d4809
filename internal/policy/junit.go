package policy

import (
	"encoding/xml"
	"fmt"
	"strings"
	"time"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit renders the verdict as JUnit XML: one testsuite per component and
// one testcase per rule code. A code with violations is a failure (all its
// messages in the text); warnings are printed in system-out.
func (v Verdict) JUnit() ([]byte, error) {
	out := junitSuites{Name: "policy " + v.policyName()}
	for _, c := range v.Components {
		s := componentSuite(c, v.EvaluatedAt)
		out.Suites = append(out.Suites, s)
		out.Tests += s.Tests
		out.Failures += s.Failures
	}
	b, err := xml.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("policy: encoding JUnit XML: %w", err)
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}

func componentSuite(c ComponentResult, at time.Time) junitSuite {
	s := junitSuite{Name: c.Name, Timestamp: at.UTC().Format("2006-01-02T15:04:05"),
		Properties: []junitProperty{{Name: "image", Value: c.Image}}}
	byCode := map[string]*junitCase{}
	get := func(code string) *junitCase {
		if tc := byCode[code]; tc != nil {
			return tc
		}
		tc := &junitCase{Name: code, Classname: c.Name}
		byCode[code] = tc
		return tc
	}
	for _, r := range c.Violations {
		tc := get(r.Code)
		if tc.Failure == nil {
			tc.Failure = &junitFailure{Message: r.Msg, Type: "violation"}
		}
		tc.Failure.Text += r.Msg + "\n"
	}
	for _, r := range c.Warnings {
		tc := get(r.Code)
		tc.SystemOut += "warning: " + r.Msg + "\n"
	}
	for _, r := range c.Successes {
		get(r.Code)
	}
	for _, code := range sortedKeys(byCode) {
		tc := byCode[code]
		if tc.Failure != nil {
			tc.Failure.Text = strings.TrimSuffix(tc.Failure.Text, "\n")
			s.Failures++
		}
		tc.SystemOut = strings.TrimSuffix(tc.SystemOut, "\n")
		s.Cases = append(s.Cases, *tc)
	}
	s.Tests = len(s.Cases)
	return s
}

func (v Verdict) policyName() string {
	if v.Policy.Name != "" {
		return v.Policy.Name
	}
	return v.Policy.Digest
}
