package aptrepo

// Info is what the server says about an Application's apt repository
// (GET /apt-repositories/NS/APP) and `kiln repo show` prints.
type Info struct {
	Namespace     string   `json:"namespace"`
	Application   string   `json:"application"`
	URL           string   `json:"url"`
	Suite         string   `json:"suite"`
	Components    []string `json:"components"`
	Architectures []string `json:"architectures"`
	Fingerprint   string   `json:"fingerprint"`
	Public        bool     `json:"public"`
	SourcesLine   string   `json:"sourcesLine"`
	KeyURL        string   `json:"keyURL"`
	Note          string   `json:"note,omitempty"`
}
