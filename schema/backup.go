package schema

// Decoding the backup block: schedule, placement, destination, retention,
// encryption and the S3 settings.

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/etcdform/etcdform/internal/cron"
)

func (l *loader) backup(ctx *hcl.EvalContext, blk *hcl.Block, c *Cluster) *Backup {
	content := l.content(blk.Body, backupSchema)
	as := content.Attributes
	b := &Backup{}
	if a := l.str(ctx, as, "schedule", &b.Schedule); a != nil {
		if err := cron.Parse(b.Schedule); err != nil {
			l.diags = append(l.diags, errAt(a.Expr.Range(), "Invalid cron expression",
				fmt.Sprintf("The schedule %q does not parse: %s.", b.Schedule, err))...)
		} else if fires, err := cron.Fires(b.Schedule); err == nil && !fires {
			l.diags = append(l.diags, errAt(a.Expr.Range(), "Schedule never fires",
				fmt.Sprintf("The schedule %q matches no date (its day of month never falls in its months, as with February 30th), so no backup would ever be made. Fix the day of month or the month field.", b.Schedule))...)
		} else if f, err := cron.Expand(b.Schedule); err == nil && c.Service.Manager == "systemd" && !f.AnyDay && !f.AnyWeekday {
			l.diags = append(l.diags, errAt(a.Expr.Range(), "Schedule a systemd timer cannot express",
				fmt.Sprintf("The schedule %q restricts both the day of month and the day of week. cron runs the job when either matches, but the systemd timer that service.manager = \"systemd\" installs runs it only when both do. Restrict one of the two.", b.Schedule))...)
		}
	}
	if v, a, ok := l.value(ctx, as, "on", cty.List(cty.String)); ok {
		names := make([]string, 0, len(c.Members))
		for _, m := range c.Members {
			names = append(names, m.Name)
		}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() {
				continue
			}
			n := e.AsString()
			b.On = append(b.On, n)
			if c.Member(n) == nil {
				l.diags = append(l.diags, errAt(a.Expr.Range(), "Unknown backup member",
					fmt.Sprintf("The backup runs on %q, but cluster %s has no member of that name.%s", n, c.Name, suggestion(n, names)))...)
			}
		}
		if len(b.On) == 0 {
			l.diags = append(l.diags, errAt(a.Expr.Range(), "No backup member", "The on list must name at least one member whose host runs the backup.")...)
		}
	}
	destAttr := l.str(ctx, as, "destination", &b.Destination)
	l.checkValue(destAttr, "Invalid backup destination", "destination", b.Destination, destinationProblem(b.Destination))
	var keep int64
	if l.integer(ctx, as, "keep_last", 0, 100000, &keep) != nil {
		b.KeepLast = int(keep)
	}
	l.duration(ctx, as, "max_age", time.Second, &b.MaxAge)
	l.boolean(ctx, as, "allow_unencrypted", &b.AllowUnencrypted)
	if eb := l.single(content, "encryption"); eb != nil {
		ea := l.content(eb.Body, encryptionSchema).Attributes
		if a := l.str(ctx, ea, "recipient", &b.Recipient); a != nil && !validAgeRecipient(b.Recipient) {
			l.diags = append(l.diags, errAt(a.Expr.Range(), "Invalid age recipient",
				"The recipient must be an age public key (age1…). Never put the secret key (AGE-SECRET-KEY-…) in the configuration.")...)
		}
	} else if !b.AllowUnencrypted {
		l.diags = append(l.diags, errAt(blk.DefRange, "Unencrypted backup",
			"A snapshot holds every key in etcd. Add an encryption block with an age recipient, or set allow_unencrypted = true.")...)
	}
	if sb := l.single(content, "s3"); sb != nil {
		sa := l.content(sb.Body, s3Schema).Attributes
		b.S3 = &S3Options{}
		if a := l.str(ctx, sa, "endpoint", &b.S3.Endpoint); a != nil {
			l.checkValue(a, "Invalid S3 endpoint", "endpoint", b.S3.Endpoint, endpointProblem(b.S3.Endpoint))
		}
		if a := l.str(ctx, sa, "region", &b.S3.Region); a != nil {
			l.checkValue(a, "Invalid S3 region", "region", b.S3.Region, regionProblem(b.S3.Region))
		}
		l.boolean(ctx, sa, "path_style", &b.S3.PathStyle)
		var src string
		if a := l.str(ctx, sa, "credentials_source", &src); a != nil {
			b.S3.CredentialsSource = l.localPath(src)
			l.mustExist(b.S3.CredentialsSource, a.Expr.Range(), "S3 credentials source")
		}
		if destAttr != nil && !strings.HasPrefix(b.Destination, "s3://") {
			l.diags = append(l.diags, errAt(sb.DefRange, "S3 options without S3 destination",
				"The s3 block applies only to an s3:// destination.")...)
		}
	}
	return b
}

func validAgeRecipient(s string) bool {
	if !strings.HasPrefix(s, "age1") || len(s) < 20 {
		return false
	}
	return strings.Trim(s[4:], "023456789acdefghjklmnpqrstuvwxyz") == ""
}
