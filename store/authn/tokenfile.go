package authn

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// TokenFile authenticates static bearer tokens listed in a file in the
// format of kube-apiserver's --token-auth-file: one CSV record per line,
//
//	token,user,uid,"group1,group2"
//
// The uid and groups columns may be empty and the groups column may be left
// out; columns after it are ignored. Lines starting with # are comments.
type TokenFile struct {
	users map[string]*User
}

// LoadTokenFile reads and parses the token file at path.
func LoadTokenFile(path string) (*TokenFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	return ParseTokenFile(f, path)
}

// ParseTokenFile parses a token file read from r; name is the file name
// used in errors, which read "name:line: problem". A record with fewer than
// three columns, an empty token or user name, or a token already listed is
// an error. Errors never contain a token.
func ParseTokenFile(r io.Reader, name string) (*TokenFile, error) {
	reader := csv.NewReader(r)
	reader.FieldsPerRecord = -1
	reader.TrimLeadingSpace = true
	reader.Comment = '#'
	users := map[string]*User{}
	lines := map[string]int{}
	for {
		record, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return &TokenFile{users: users}, nil
		}
		if err != nil {
			var parseErr *csv.ParseError
			if errors.As(err, &parseErr) {
				return nil, fmt.Errorf("%s:%d: %w", name, parseErr.Line, parseErr.Err)
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := reader.FieldPos(0)
		token, user, err := parseTokenRecord(record)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if first, dup := lines[token]; dup {
			return nil, fmt.Errorf("%s:%d: token already listed on line %d", name, line, first)
		}
		lines[token] = line
		users[token] = user
	}
}

// AuthenticateToken returns the user the token is listed for. An unlisted
// token is not an error: another authenticator may know it.
func (f *TokenFile) AuthenticateToken(_ context.Context, token string) (*User, bool, error) {
	user, ok := f.users[token]
	if !ok {
		return nil, false, nil
	}
	return user.clone(), true, nil
}

// parseTokenRecord checks one record of a token file.
func parseTokenRecord(record []string) (string, *User, error) {
	if len(record) < 3 {
		return "", nil, fmt.Errorf("want at least 3 columns (token,user,uid), found %d", len(record))
	}
	token := strings.TrimSpace(record[0])
	if token == "" {
		return "", nil, errors.New("token (column 1) is empty")
	}
	user := &User{Name: strings.TrimSpace(record[1]), UID: strings.TrimSpace(record[2])}
	if user.Name == "" {
		return "", nil, errors.New("user name (column 2) is empty")
	}
	if len(record) > 3 {
		for _, group := range strings.Split(record[3], ",") {
			if group = strings.TrimSpace(group); group != "" {
				user.Groups = append(user.Groups, group)
			}
		}
	}
	return token, user, nil
}
