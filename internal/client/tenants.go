package client

import (
	"context"
	"net/http"
)

// CreateTenant creates a tenant; it needs a platform key.
func (c *Client) CreateTenant(ctx context.Context, id, name string) error {
	_, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/tenants",
		in: map[string]string{"id": id, "name": name}}, nil)
	return err
}

// DeleteTenant deletes a tenant and, in the background, all of its data;
// it needs a platform key.
func (c *Client) DeleteTenant(ctx context.Context, id string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: "/v1/tenants/" + pathID(id)}, nil)
	return err
}
