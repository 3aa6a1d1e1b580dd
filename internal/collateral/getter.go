package collateral

import "context"

// SEVGetter adapts a Fetcher to go-sev-guest's trust.HTTPSGetter
// (Get(url) ([]byte, error)). The resource's Kind is KindOf(url).
type SEVGetter struct {
	Ctx     context.Context
	Fetcher *Fetcher
}

// Get implements go-sev-guest's trust.HTTPSGetter.
func (g SEVGetter) Get(url string) ([]byte, error) {
	r, err := g.Fetcher.Get(ctx(g.Ctx), url, KindOf(url))
	if err != nil {
		return nil, err
	}
	return r.Body, nil
}

// TDXGetter adapts a Fetcher to go-tdx-guest's trust.HTTPSGetter
// (Get(url) (map[string][]string, []byte, error)): the headers it returns
// are the kept ones, under their canonical keys (Tcb-Info-Issuer-Chain),
// as go-tdx-guest looks them up.
type TDXGetter struct {
	Ctx     context.Context
	Fetcher *Fetcher
}

// Get implements go-tdx-guest's trust.HTTPSGetter.
func (g TDXGetter) Get(url string) (map[string][]string, []byte, error) {
	r, err := g.Fetcher.Get(ctx(g.Ctx), url, KindOf(url))
	if err != nil {
		return nil, nil, err
	}
	return r.Header, r.Body, nil
}

func ctx(c context.Context) context.Context {
	if c == nil {
		return context.Background()
	}
	return c
}
