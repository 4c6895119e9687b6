package cluster

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/valyala/fasthttp"

	"github.com/vigilo/vigilo/api/admin"
)

// What is read across every shard: the admin API's project list, since
// projects are spread over the shards, and the engines' metrics.

// gathersProjects says whether the request is the admin list of projects.
func (n *Node) gathersProjects(ctx *fasthttp.RequestCtx) bool {
	if !ctx.IsGet() {
		return false
	}
	// Compared as bytes: a string made of the path, on every request, was
	// an allocation each ping paid.
	p, _ := bytes.CutSuffix(ctx.Path(), []byte("/"))
	return bytes.Equal(p, []byte(admin.Prefix+"projects"))
}

// serveProjectList asks every shard for its projects, as a client would
// ask one node, and answers with them all in id order, as one node lists
// them. An answer other than 200 from any shard (a wrong admin key, no
// leader) is the answer.
func (n *Node) serveProjectList(ctx *fasthttp.RequestCtx) {
	var all []json.RawMessage
	var ids []string
	for _, h := range n.hosts {
		var sub fasthttp.RequestCtx
		var req fasthttp.Request
		ctx.Request.CopyTo(&req)
		sub.Init(&req, ctx.RemoteAddr(), nil)
		n.serveShard(&sub, h.id)
		if sub.Response.StatusCode() != fasthttp.StatusOK {
			sub.Response.CopyTo(&ctx.Response)
			return
		}
		var page struct {
			Projects []json.RawMessage `json:"projects"`
		}
		if err := json.Unmarshal(sub.Response.Body(), &page); err != nil {
			writeError(ctx, fasthttp.StatusBadGateway, "shard "+strconv.Itoa(int(h.id))+" answered: "+err.Error())
			return
		}
		for _, p := range page.Projects {
			var id struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(p, &id)
			all, ids = append(all, p), append(ids, id.ID)
		}
	}
	order := make([]int, len(all))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(ids[a], ids[b]) })
	out := make([]json.RawMessage, 0, len(all))
	for _, i := range order {
		out = append(out, all[i])
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"projects": out})
}

// shardGatherer labels every metric of a shard's engine with its shard:
// each engine registers the same families, which would otherwise collide.
type shardGatherer struct {
	g     prometheus.Gatherer
	shard string
}

func (s shardGatherer) Gather() ([]*dto.MetricFamily, error) {
	fams, err := s.g.Gather()
	name, value := "shard", s.shard
	for _, f := range fams {
		for _, m := range f.Metric {
			m.Label = append(m.Label, &dto.LabelPair{Name: &name, Value: &value})
			slices.SortFunc(m.Label, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
		}
	}
	return fams, err
}
