package console

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/protostar/protostar"
)

// deliveriesShown is how many recent deliveries each endpoint shows.
const deliveriesShown = 10

type webhooksData struct {
	Off   bool
	Hooks []hookData
}

type hookData struct {
	Hook       protostar.Webhook
	Deliveries []deliveryRow
}

// deliveryRow is a delivery with what its last attempt got.
type deliveryRow struct {
	protostar.Delivery
	Last string
}

func lastAttempt(d protostar.Delivery) string {
	var last *protostar.DeliveryAttempt
	for i := range d.Attempts {
		if last == nil || d.Attempts[i].Attempt > last.Attempt {
			last = &d.Attempts[i]
		}
	}
	switch {
	case last == nil:
		return "—"
	case last.StatusCode != 0:
		return strings.TrimSpace(strconv.Itoa(last.StatusCode) + " " + last.Error)
	}
	return last.Error
}

// webhooks shows the tenant's endpoints with their recent deliveries.
func (c *Console) webhooks(w http.ResponseWriter, r *http.Request, rq *request) {
	if c.deps.Webhooks == nil {
		c.render(w, r, rq, http.StatusOK, "webhooks", webhooksData{Off: true})
		return
	}
	hooks, err := c.deps.Webhooks.Webhooks(r.Context(), rq.tenant)
	if err != nil {
		c.fail(w, r, rq, err)
		return
	}
	d := webhooksData{}
	for _, h := range hooks {
		ds, _, err := c.deps.Webhooks.Deliveries(r.Context(), rq.tenant, h.ID, deliveriesShown, "")
		if err != nil {
			c.fail(w, r, rq, err)
			return
		}
		hd := hookData{Hook: h}
		for _, del := range ds {
			hd.Deliveries = append(hd.Deliveries, deliveryRow{del, lastAttempt(del)})
		}
		d.Hooks = append(d.Hooks, hd)
	}
	c.render(w, r, rq, http.StatusOK, "webhooks", d)
}

// retryDelivery sends a delivery again, as the API's retry does.
func (c *Console) retryDelivery(w http.ResponseWriter, r *http.Request, rq *request) {
	if c.deps.Webhooks == nil {
		c.fail(w, r, rq, protostar.Errorf(protostar.EUNAVAILABLE, "webhooks are off: PROTOSTAR_SECRET_KEY is not set"))
		return
	}
	if err := c.deps.Webhooks.RetryDelivery(r.Context(), rq.tenant, r.PathValue("hook"), r.PathValue("id")); err != nil {
		c.fail(w, r, rq, err)
		return
	}
	redirect(w, r, "/console/webhooks", "hooks.retried")
}
