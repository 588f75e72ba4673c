package calibrate

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certFiles are the PEM files of one member's peer identity.
type certFiles struct {
	CA, Cert, Key string
}

// newKey makes a private key of the peer TLS key type the scenario models:
// "rsa" is RSA-2048 (etcd's documented cfssl profiles and the 2018 cluster),
// "ecdsa" is P-256.
func newKey(kind string) (crypto.Signer, error) {
	switch kind {
	case "rsa":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "ecdsa":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return nil, fmt.Errorf("tls %q: allowed values are rsa, ecdsa", kind)
}

// writeCerts creates a throwaway CA and one certificate per member in dir:
// IP SAN 127.0.0.1 and both server and client usage, because etcd peers dial
// each other with the same certificate they serve (client/pkg transport:
// CertFile "will also be used as a client certificate if ClientCertFile is
// empty"). now fixes the validity window; the harness passes its clock's time.
func writeCerts(dir, kind string, members int, now time.Time) (ca string, out []certFiles, err error) {
	caKey, err := newKey(kind)
	if err != nil {
		return "", nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "leasesim calibration CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return "", nil, fmt.Errorf("CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return "", nil, err
	}
	ca = filepath.Join(dir, "ca.pem")
	if err := writePEM(ca, "CERTIFICATE", caDER); err != nil {
		return "", nil, err
	}
	for i := range members {
		key, err := newKey(kind)
		if err != nil {
			return "", nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i) + 2),
			Subject:      pkix.Name{CommonName: fmt.Sprintf("m%d", i)},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
		if err != nil {
			return "", nil, fmt.Errorf("member %d certificate: %w", i, err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return "", nil, err
		}
		f := certFiles{CA: ca, Cert: filepath.Join(dir, fmt.Sprintf("m%d.pem", i)), Key: filepath.Join(dir, fmt.Sprintf("m%d-key.pem", i))}
		if err := writePEM(f.Cert, "CERTIFICATE", der); err != nil {
			return "", nil, err
		}
		if err := writePEM(f.Key, "PRIVATE KEY", keyDER); err != nil {
			return "", nil, err
		}
		out = append(out, f)
	}
	return ca, out, nil
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}
