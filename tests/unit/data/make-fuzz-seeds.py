#!/usr/bin/env python3
# Writes the named seed inputs of fuzz/corpus/x509 and fuzz/corpus/tlsa from
# the fixtures of this directory (run make-fixtures.sh first).  The tlsa seeds
# follow the framing documented in fuzz/fuzz_tlsa.c.
import os, hashlib, struct
D=os.path.dirname(os.path.abspath(__file__))
X=os.path.join(D, '..', '..', '..', 'fuzz', 'corpus', 'x509')
T=os.path.join(D, '..', '..', '..', 'fuzz', 'corpus', 'tlsa')
def rd(n, s='.der'): return open(os.path.join(D, n+s),'rb').read()
names=[f[:-4] for f in sorted(os.listdir(D)) if f.endswith('.der')]
for n in names:
    open(os.path.join(X, n+'.der'),'wb').write(rd(n))
    open(os.path.join(X, n+'.spki'),'wb').write(rd(n,'.spki'))
def item(tag, b): return bytes([tag]) + struct.pack('>H', len(b)) + b
def cert(n): return item(0, rd(n))
def rr(u,s,m,n):
    src = rd(n) if s==0 else rd(n,'.spki')
    d = src if m==0 else hashlib.sha256(src).digest() if m==1 else hashlib.sha512(src).digest()
    return item(1, bytes([u,s,m])+d)
def ident(s): return item(2, s.encode())
seeds = {
 'ee_311': b'\0'+cert('ee_p256')+rr(3,1,1,'ee_p256')+ident('alice._device.corp.example'),
 'ee_ed_302': b'\0'+cert('ee_ed25519')+rr(3,0,2,'ee_ed25519'),
 'ee_rsa_300': b'\0'+cert('ee_rsa')+rr(3,0,0,'ee_rsa'),
 'ta_201': b'\0'+cert('bob')+cert('ca')+rr(2,0,1,'ca')+ident('bob._device.corp.example'),
 'ta_210_nochain': b'\0'+cert('bob')+rr(2,1,0,'ca')+ident('bob._device.corp.example'),
 'ta_int': b'\0'+cert('leaf_int')+cert('int')+cert('ca')+rr(2,1,1,'ca')+rr(2,0,2,'int')+ident('erin._device.corp.example'),
 'ta_int_key': b'\0'+cert('leaf_int')+cert('int')+rr(2,1,0,'ca')+ident('erin._device.corp.example'),
 'ta_expired': b'\0'+cert('expired')+cert('ca')+rr(2,0,1,'ca')+ident('bob._device.corp.example'),
 'ta_wild': b'\0'+cert('wild')+cert('ca')+rr(2,1,2,'ca')+ident('dave._device.corp.example'),
 'ta_notca': b'\0'+cert('leaf_notca')+cert('notca')+cert('ca')+rr(2,0,1,'ca')+ident('frank._device.corp.example'),
 'ta_v1': b'\0'+cert('leaf_v1ca')+cert('ca_v1')+rr(2,0,1,'ca_v1')+ident('grace._device.corp.example'),
 'agility': b'\0'+cert('ee_p256')+rr(3,1,1,'ee_p256')+item(1,bytes([3,1,2])+bytes(64))+rr(3,1,0,'ee_p256'),
 'pkix': b'\x80'+cert('bob')+cert('ca')+rr(0,0,1,'ca')+rr(1,1,1,'bob')+rr(4,1,1,'bob'),
 'mixed': b'\x02'+cert('twosans')+cert('ca')+cert('int')+rr(2,0,1,'ca')+rr(3,1,1,'bob')+item(1,b'\x03\x01\x01')+ident('two._device.corp.example'),
 'empty': b'\0'+rr(3,1,1,'bob'),
}
for k,v in seeds.items(): open(os.path.join(T,k),'wb').write(v)
# a few malformed x509 seeds
open(os.path.join(X,'indefinite'),'wb').write(bytes([0x30,0x80,0x30,0x00,0,0]))
open(os.path.join(X,'trunc_bob'),'wb').write(rd('bob')[:200])
