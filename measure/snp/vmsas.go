package snp

// SNPVMSAs returns the VMSA page of each vCPU of the SEV-SNP launch cfg,
// vCPU 0 (the BSP) first: the 4096 bytes hashed into the digest, what
// sev-snp-measure's --dump-vmsa writes. The application processors' pages
// share one backing array; callers must not modify them.
func (m *Measurer) SNPVMSAs(cfg Config) ([][]byte, error) {
	return m.vmsaPages(cfg, cfg.GuestFeatures)
}

// SEVESVMSAs returns the VMSA pages of the SEV-ES launch cfg, as SNPVMSAs
// does; their SEV_FEATURES is 0 whatever cfg.GuestFeatures says.
func (m *Measurer) SEVESVMSAs(cfg Config) ([][]byte, error) {
	return m.vmsaPages(cfg, 0)
}

func (m *Measurer) vmsaPages(cfg Config, features uint64) ([][]byte, error) {
	if err := checkVCPUs(cfg.VCPUs); err != nil {
		return nil, err
	}
	profile, err := LookupProfile(cfg.VMM, cfg.Profile)
	if err != nil {
		return nil, err
	}
	bsp, ap, err := m.vmsaParams(cfg, profile, features)
	if err != nil {
		return nil, err
	}
	pages := make([][]byte, cfg.VCPUs)
	pages[0] = newVMSA(bsp).Marshal()
	if cfg.VCPUs > 1 {
		apPage := newVMSA(ap).Marshal()
		for i := 1; i < cfg.VCPUs; i++ {
			pages[i] = apPage
		}
	}
	return pages, nil
}
