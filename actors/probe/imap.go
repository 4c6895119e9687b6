package probe

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
)

var imapProto = mailProto{
	name:     "imap",
	greet:    imapGreet,
	caps:     imapCapability,
	startTLS: imapStartTLS,
	quit:     imapLogout,
}

// probeIMAP checks an IMAP server on 143 (STARTTLS when offered) or 993
// (implicit TLS): greeting "* OK" (or "* PREAUTH"), CAPABILITY, LOGOUT. IMAP
// replies carry no code, so StatusCode stays 0.
func probeIMAP(ctx context.Context, t *Target, env *Env, r *Result) {
	probeMail(ctx, t, env, r, &imapProto)
}

// imapHasWord says whether line starts with prefix as a whole word,
// ignoring case as IMAP keywords do.
func imapHasWord(line, prefix string) bool {
	if len(line) < len(prefix) || !strings.EqualFold(line[:len(prefix)], prefix) {
		return false
	}
	return len(line) == len(prefix) || line[len(prefix)] == ' '
}

func imapGreet(s *mailSession) error {
	line, err := s.imapLine()
	if err != nil {
		return err
	}
	// PREAUTH is a positive greeting too: the server has already
	// authenticated the connection by other means (RFC 9051 section 7.1.4).
	if imapHasWord(line, "* OK") || imapHasWord(line, "* PREAUTH") {
		return nil
	}
	return fmt.Errorf("server answered %s", mailQuote(line))
}

// imapLiteralMax bounds a literal the probe will skip; nothing it asks for
// carries one, so a large literal means a confused server.
const imapLiteralMax = 64 << 10

// imapLine reads one response line, skipping the content of any literals in
// it ("{n}" at the end of a line announces n bytes that may hold CRLF).
func (s *mailSession) imapLine() (string, error) {
	var b strings.Builder
	for {
		line, err := s.text.ReadLine()
		if err != nil {
			return "", err
		}
		b.WriteString(line)
		n, ok := imapLiteralSize(line)
		if !ok {
			return b.String(), nil
		}
		if n > imapLiteralMax {
			return "", fmt.Errorf("server sent a %d-byte literal", n)
		}
		if _, err := io.CopyN(io.Discard, s.text.R, n); err != nil {
			return "", fmt.Errorf("reading literal: %w", err)
		}
	}
}

// imapLiteralSize parses a trailing "{n}" or "{n+}".
func imapLiteralSize(line string) (int64, bool) {
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	open := strings.LastIndexByte(line, '{')
	if open < 0 {
		return 0, false
	}
	digits := strings.TrimSuffix(line[open+1:len(line)-1], "+")
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// imapCommand sends a tagged command and reads up to its tagged completion,
// returning the untagged lines. Anything but OK fails.
func (s *mailSession) imapCommand(command string) ([]string, error) {
	s.tag++
	tag := "v" + strconv.Itoa(s.tag)
	if err := s.cmd("%s %s", tag, command); err != nil {
		return nil, err
	}
	var untagged []string
	for {
		line, err := s.imapLine()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", command, err)
		}
		switch {
		case strings.HasPrefix(line, tag+" "):
			if imapHasWord(line[len(tag)+1:], "OK") {
				return untagged, nil
			}
			return nil, fmt.Errorf("%s: server answered %s", command, mailQuote(line))
		case strings.HasPrefix(line, "+"):
			// A continuation request asks for data these commands never send:
			// waiting would only end at the timeout.
			return nil, fmt.Errorf("%s: unexpected continuation %s", command, mailQuote(line))
		default:
			untagged = append(untagged, line)
		}
	}
}

func imapCapability(s *mailSession) (bool, error) {
	untagged, err := s.imapCommand("CAPABILITY")
	if err != nil {
		return false, err
	}
	for _, line := range untagged {
		if !imapHasWord(line, "* CAPABILITY") {
			continue
		}
		for _, c := range strings.Fields(line)[2:] {
			if strings.EqualFold(c, "STARTTLS") {
				return true, nil
			}
		}
	}
	return false, nil
}

func imapStartTLS(s *mailSession) error {
	_, err := s.imapCommand("STARTTLS")
	return err
}

func imapLogout(s *mailSession) error {
	_, err := s.imapCommand("LOGOUT")
	return err
}
