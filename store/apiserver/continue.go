package apiserver

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// continueToken is the opaque paging cursor: the revision the first page
// was read at and the key after the last one returned, relative to the
// list's prefix (the same shape kube-apiserver uses).
type continueToken struct {
	APIVersion string `json:"v"`
	Revision   int64  `json:"rv"`
	Start      string `json:"start"`
}

func encodeContinue(rev int64, nextKey, prefix string) string {
	data, _ := json.Marshal(continueToken{APIVersion: "meta.k8s.io/v1", Revision: rev, Start: strings.TrimPrefix(nextKey, prefix)})
	return base64.RawURLEncoding.EncodeToString(data)
}

func decodeContinue(token, prefix string) (continueToken, error) {
	var t continueToken
	data, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return t, errors.New("continue key is not valid: " + err.Error())
	}
	if err := json.Unmarshal(data, &t); err != nil || t.APIVersion != "meta.k8s.io/v1" || t.Revision <= 0 {
		return t, errors.New("continue key is not valid")
	}
	if strings.Contains(t.Start, "..") || strings.HasPrefix(t.Start, "/") {
		return t, errors.New("continue key is not valid: the start key may not escape the list")
	}
	t.Start = prefix + t.Start
	return t, nil
}
