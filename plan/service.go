package plan

// checkServices refuses the plan when the service manager on a member's
// host knows no service of service.name: no step could start, stop or
// restart it, and a wrong name would otherwise look like "no changes".
func (cp *clusterPlanner) checkServices() {
	svc := cp.c.Service
	for _, m := range cp.c.Members {
		h := cp.oc.Hosts[m.Name]
		if h == nil || h.ServiceMissing == "" {
			continue
		}
		cp.refuse(m.Name, 0, "Service not found",
			"The %s service %q (service.name) does not exist on the host of member %s (%s). Set service.name to the service that runs etcd there, or install that service on the host, and plan again; etcdform does not install services.",
			svc.Manager, svc.Name, m.Name, h.ServiceMissing)
	}
}
