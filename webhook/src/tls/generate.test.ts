// Generated CA and serving certificates, checked with node:crypto's X509Certificate and a real TLS handshake.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import forge from 'node-forge';
import { generateCa, issueServingCertificate, serviceDnsNames, DEFAULT_CA_VALIDITY_MS, DEFAULT_SERVING_VALIDITY_MS } from './generate.js';

test('serviceDnsNames: the two names the API server uses for a Service', () => {
  assert.deepEqual(serviceDnsNames('chaperone-webhook', 'chaperone'), ['chaperone-webhook.chaperone.svc', 'chaperone-webhook.chaperone.svc.cluster.local']);
  assert.deepEqual(serviceDnsNames('w', 'ns', 'corp.example'), ['w.ns.svc', 'w.ns.svc.corp.example']);
});

test('the CA is a self-signed CA valid for a year by default', async () => {
  const now = new Date('2030-01-01T00:00:00Z');
  const ca = await generateCa({ now });
  const x = new X509Certificate(ca.cert);
  assert.equal(x.ca, true);
  assert.ok(x.checkIssued(x), 'self-signed');
  assert.ok(x.verify(x.publicKey));
  assert.ok(x.checkPrivateKey(createPrivateKey(ca.key)));
  assert.equal(new Date(x.validTo).getTime(), now.getTime() + DEFAULT_CA_VALIDITY_MS);
  assert.equal(ca.notAfter.getTime(), new Date(x.validTo).getTime());
  assert.ok(new Date(x.validFrom) < now, 'notBefore is backdated for clock skew');
  assert.equal(x.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
});

test('the serving certificate chains to the CA and carries the DNS and IP SANs', async () => {
  const now = new Date('2030-01-01T00:00:00Z');
  const ca = await generateCa({ now });
  const s = await issueServingCertificate(ca, { dnsNames: serviceDnsNames('hook', 'ns'), ipAddresses: ['127.0.0.1', '::1'], now });
  const x = new X509Certificate(s.cert);
  const cax = new X509Certificate(ca.cert);
  assert.ok(x.checkIssued(cax));
  assert.ok(x.verify(cax.publicKey));
  assert.equal(x.ca, false);
  assert.equal(x.subjectAltName, 'DNS:hook.ns.svc, DNS:hook.ns.svc.cluster.local, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  assert.equal(x.checkHost('hook.ns.svc'), 'hook.ns.svc');
  assert.equal(x.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(x.checkHost('other.ns.svc'), undefined);
  assert.deepEqual(x.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'serverAuth only');
  assert.ok(x.checkPrivateKey(createPrivateKey(s.key)));
  assert.equal(new Date(x.validTo).getTime(), now.getTime() + DEFAULT_SERVING_VALIDITY_MS);
  assert.equal(s.notAfter.getTime(), new Date(x.validTo).getTime());
  assert.equal(s.ca, ca.cert);
});

test('names are UTF8String, so Go parses a CN with characters PrintableString lacks', async () => {
  const ca = await generateCa({ commonName: 'chaperone@test_ca' });
  const s = await issueServingCertificate(ca, { dnsNames: ['*.hook.ns.svc'] });
  for (const pem of [ca.cert, s.cert]) {
    const cn = forge.pki.certificateFromPem(pem).subject.getField('CN') as { valueTagClass: number };
    assert.equal(cn.valueTagClass, forge.asn1.Type.UTF8);
  }
  assert.match(new X509Certificate(ca.cert).subject, /CN=chaperone@test_ca/);
});

test('a serving certificate never outlives its CA', async () => {
  const now = new Date('2030-01-01T00:00:00Z');
  const ca = await generateCa({ now, validityMs: 10 * 86_400_000 });
  const s = await issueServingCertificate(ca, { dnsNames: ['a.b.svc'], now });
  assert.equal(s.notAfter.getTime(), ca.notAfter.getTime());
});

test('bad inputs are refused before anything is signed', async () => {
  const ca = await generateCa();
  await assert.rejects(issueServingCertificate(ca, { dnsNames: [] }), /at least one/);
  await assert.rejects(issueServingCertificate(ca, { dnsNames: ['x'], ipAddresses: ['not-an-ip'] }), /not an IP address/);
});

test('a TLS client that trusts only the CA completes a handshake with the serving certificate', async () => {
  const ca = await generateCa();
  const s = await issueServingCertificate(ca, { dnsNames: ['hook.ns.svc'], ipAddresses: ['127.0.0.1'] });
  const server = createServer({ cert: s.cert, key: s.key }, (sock) => sock.end('ok'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const { port } = server.address() as AddressInfo;
    const sock = connect({ host: '127.0.0.1', port, ca: ca.cert, servername: 'hook.ns.svc' });
    await once(sock, 'secureConnect');
    assert.equal(sock.authorized, true);
    sock.destroy();
    const wrong = await generateCa();
    const bad = connect({ host: '127.0.0.1', port, ca: wrong.cert, servername: 'hook.ns.svc' });
    const [err] = (await once(bad, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  } finally {
    server.close();
  }
});
