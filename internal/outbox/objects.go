package outbox

import (
	"context"

	"github.com/protostar/protostar"
)

// removeObjects deletes from the bucket what deleted documents left there:
// their live objects where protostar stored them by upload (never an
// object the producer owns), and their uploads' staging copies. Each
// document's removal holds its key's lock, so an upload of the same key
// meanwhile is never deleted; a failure leaves the document pending for
// the next round, and deleting an object already gone is no error.
func (o *Outbox) removeObjects(ctx context.Context) {
	for ctx.Err() == nil {
		pending, err := o.store.PendingObjectRemovals(ctx, 100)
		if err != nil {
			o.logErr("find objects to remove", err)
			return
		}
		for _, r := range pending {
			if err := o.removeDocumentObjects(ctx, r); err != nil {
				o.logErr("remove a deleted document's objects", err)
				return
			}
		}
		if len(pending) < 100 {
			return
		}
	}
}

func (o *Outbox) removeDocumentObjects(ctx context.Context, r protostar.ObjectRemoval) error {
	err := o.store.WithKeyLock(ctx, r.TenantID, r.Key, func(ctx context.Context, live bool) error {
		keys := r.Staged
		if r.Stored && !live {
			keys = append(keys, protostar.ObjectKey(r.TenantID, r.Key))
		}
		for _, key := range keys {
			if err := o.objects.Delete(ctx, key); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return o.store.ObjectsRemoved(ctx, r.DocumentID)
}
