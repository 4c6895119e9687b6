package probe

import (
	"context"
	"fmt"
	"strings"
)

var popProto = mailProto{
	name:     "pop",
	greet:    popGreet,
	caps:     popCapa,
	startTLS: popSTLS,
	quit:     popQuit,
}

// probePOP checks a POP3 server on 110 (STLS when offered) or 995 (implicit
// TLS): greeting +OK, CAPA, QUIT. POP3 replies carry no code, so StatusCode
// stays 0.
func probePOP(ctx context.Context, t *Target, env *Env, r *Result) {
	probeMail(ctx, t, env, r, &popProto)
}

// popOK says whether line is a positive POP3 status: "+OK", alone or followed
// by a space (RFC 1939 section 3).
func popOK(line string) bool {
	return line == "+OK" || strings.HasPrefix(line, "+OK ")
}

// popReply reads one status line and fails unless it is positive.
func popReply(s *mailSession, what string) error {
	line, err := s.text.ReadLine()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !popOK(line) {
		return fmt.Errorf("%s: server answered %s", what, mailQuote(line))
	}
	return nil
}

func popGreet(s *mailSession) error {
	line, err := s.text.ReadLine()
	if err != nil {
		return err
	}
	if !popOK(line) {
		return fmt.Errorf("server answered %s", mailQuote(line))
	}
	return nil
}

func popCapa(s *mailSession) (bool, error) {
	if err := s.cmd("CAPA"); err != nil {
		return false, err
	}
	line, err := s.text.ReadLine()
	if err != nil {
		return false, fmt.Errorf("CAPA: %w", err)
	}
	if strings.HasPrefix(line, "-ERR") {
		// CAPA is an extension (RFC 2449): a server without it is plain
		// RFC 1939 POP3, up but with nothing to negotiate.
		return false, nil
	}
	if !popOK(line) {
		return false, fmt.Errorf("CAPA: server answered %s", mailQuote(line))
	}
	caps, err := s.text.ReadDotLines()
	if err != nil {
		return false, fmt.Errorf("CAPA list: %w", err)
	}
	for _, c := range caps {
		if kw, _, _ := strings.Cut(strings.TrimSpace(c), " "); strings.EqualFold(kw, "STLS") {
			return true, nil
		}
	}
	return false, nil
}

func popSTLS(s *mailSession) error {
	if err := s.cmd("STLS"); err != nil {
		return err
	}
	return popReply(s, "STLS")
}

func popQuit(s *mailSession) error {
	if err := s.cmd("QUIT"); err != nil {
		return err
	}
	return popReply(s, "QUIT")
}
