package wire

import (
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
)

// Page is one page of a list: Number from 1, Size items per page.
type Page struct {
	Number, Size int
}

// ParsePage reads the page and per_page query parameters: page defaults to 1 and
// per_page to def; a per_page above max is lowered to max, as list APIs that cap
// their pages do. Anything that is not a positive integer is Invalid, naming the
// parameter.
func ParsePage(args *fasthttp.Args, def, max int) (Page, *Failure) {
	p := Page{Number: 1, Size: def}
	f := &Failure{Kind: Invalid, Message: "invalid pagination parameters"}
	for _, q := range []struct {
		name string
		dst  *int
	}{{"page", &p.Number}, {"per_page", &p.Size}} {
		raw := args.Peek(q.name)
		if raw == nil {
			continue
		}
		n, err := strconv.Atoi(string(raw))
		if err != nil || n < 1 {
			f.Fields = append(f.Fields, FieldProblem{q.name, "must be a positive integer"})
			continue
		}
		*q.dst = n
	}
	if len(f.Fields) > 0 {
		return Page{}, f
	}
	p.Size = min(p.Size, max)
	return p, nil
}

// Pages is how many pages total items make: at least 1, so an empty list still
// has a first (and last) page to link to.
func (p Page) Pages(total int) int {
	return max(1, (total+p.Size-1)/p.Size)
}

// Window is the slice [lo, hi) of a list of total items that p shows; empty past
// the last page.
func (p Page) Window(total int) (lo, hi int) {
	lo = min(total, (p.Number-1)*p.Size)
	return lo, min(total, lo+p.Size)
}

// Links are the URLs of the first, last, previous and next pages; Prev is nil on
// the first page and Next on the last (or past it).
type Links struct {
	First string  `json:"first"`
	Last  string  `json:"last"`
	Prev  *string `json:"prev"`
	Next  *string `json:"next"`
}

// Links of p within total items, as base (an absolute URL, with a query of
// its own if the list was filtered, which every link keeps) with per_page and
// page.
func (p Page) Links(base string, total int) Links {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	at := func(n int) string {
		return base + sep + "per_page=" + strconv.Itoa(p.Size) + "&page=" + strconv.Itoa(n)
	}
	last := p.Pages(total)
	l := Links{First: at(1), Last: at(last)}
	if p.Number > 1 {
		prev := at(min(p.Number-1, last))
		l.Prev = &prev
	}
	if p.Number < last {
		next := at(p.Number + 1)
		l.Next = &next
	}
	return l
}
