"""Small synthetic fiscal XML for the layouts nfelib ships no sample of.

Each builder follows the official XSD (the schema tests validate them against nfelib's copies),
with valid keys and a structurally valid, cryptographically meaningless signature.
"""

from __future__ import annotations

from lxml import etree

from fiscal_core.identifiers import DocumentModel, build_access_key, build_nfse_key

NFE_NS = "http://www.portalfiscal.inf.br/nfe"
CTE_NS = "http://www.portalfiscal.inf.br/cte"
MDFE_NS = "http://www.portalfiscal.inf.br/mdfe"
NFSE_NS = "http://www.sped.fazenda.gov.br/nfse"

ISSUER_CNPJ = "11222333000181"
AUTHOR_CNPJ = "34028316000103"
NFSE_KEY = build_nfse_key(
    municipality="3550308", issuer_doc=ISSUER_CNPJ, number=42, year_month="2403", code="123456789"
).value


def access_key(model: DocumentModel, number: int = 123, series: int = 1) -> str:
    """A valid 44-character key of ``model`` issued by ISSUER_CNPJ in São Paulo, March 2024."""
    return build_access_key(
        cuf="35",
        year_month="2403",
        issuer_doc=ISSUER_CNPJ,
        model=model,
        series=series,
        number=number,
        cnf="12345678",
    ).value


def signature(reference: str) -> str:
    """An enveloped XMLDSig block as SEFAZ's restricted schema wants it; its values are dummies."""
    return f"""<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>
<CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>
<SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"/>
<Reference URI="#{reference}"><Transforms>
<Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
<Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/></Transforms>
<DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/>
<DigestValue>AAAAAAAAAAAAAAAAAAAAAAAAAAA=</DigestValue></Reference></SignedInfo>
<SignatureValue>AAAA</SignatureValue>
<KeyInfo><X509Data><X509Certificate>AAAA</X509Certificate></X509Data></KeyInfo></Signature>"""


def res_nfe(key: str, *, situation: str = "1") -> bytes:
    """A resNFe v1.01, as DistDFe sends before the recipient manifests."""
    return f"""<resNFe xmlns="{NFE_NS}" versao="1.01"><chNFe>{key}</chNFe><CNPJ>{ISSUER_CNPJ}</CNPJ>
<xNome>Fornecedor Exemplo Ltda</xNome><IE>123456789012</IE><dhEmi>2024-03-05T10:15:00-03:00</dhEmi>
<tpNF>1</tpNF><vNF>1234.56</vNF><dhRecbto>2024-03-05T10:15:09-03:00</dhRecbto>
<nProt>135240000000001</nProt><cSitNFe>{situation}</cSitNFe></resNFe>""".encode()


def res_evento(key: str) -> bytes:
    """A resEvento v1.01: the summary of a cancellation."""
    return f"""<resEvento xmlns="{NFE_NS}" versao="1.01"><cOrgao>35</cOrgao><CNPJ>{ISSUER_CNPJ}</CNPJ>
<chNFe>{key}</chNFe><dhEvento>2024-03-06T08:00:00-03:00</dhEvento><tpEvento>110111</tpEvento>
<nSeqEvento>1</nSeqEvento><xEvento>Cancelamento</xEvento><dhRecbto>2024-03-06T08:00:03-03:00</dhRecbto>
<nProt>135240000000002</nProt></resEvento>""".encode()


def proc_evento_nfe(key: str, *, cstat: str = "135", ret_key: str | None = None) -> bytes:
    """A procEventoNFe v1.00: the recipient's Ciência da Operação and SEFAZ's answer."""
    event_id = f"ID210210{key}01"
    return f"""<procEventoNFe xmlns="{NFE_NS}" versao="1.00"><evento versao="1.00">
<infEvento Id="{event_id}"><cOrgao>91</cOrgao><tpAmb>1</tpAmb><CNPJ>{AUTHOR_CNPJ}</CNPJ>
<chNFe>{key}</chNFe><dhEvento>2024-03-07T09:30:00-03:00</dhEvento><tpEvento>210210</tpEvento>
<nSeqEvento>1</nSeqEvento><verEvento>1.00</verEvento>
<detEvento versao="1.00"><descEvento>Ciencia da Operacao</descEvento></detEvento></infEvento>
{signature(event_id)}</evento><retEvento versao="1.00"><infEvento><tpAmb>1</tpAmb>
<verAplic>AN_1.0</verAplic><cOrgao>91</cOrgao><cStat>{cstat}</cStat>
<xMotivo>Evento registrado e vinculado a NF-e</xMotivo><chNFe>{ret_key or key}</chNFe>
<tpEvento>210210</tpEvento><xEvento>Ciencia da Operacao registrada</xEvento><nSeqEvento>1</nSeqEvento>
<dhRegEvento>2024-03-07T09:30:05-03:00</dhRegEvento><nProt>891240000000003</nProt></infEvento>
</retEvento></procEventoNFe>""".encode()


def proc_evento_cte(key: str) -> bytes:
    """A procEventoCTe v4.00: the CT-e's cancellation and SEFAZ's answer."""
    event_id = f"ID110111{key}001"
    return f"""<procEventoCTe xmlns="{CTE_NS}" versao="4.00"><eventoCTe versao="4.00">
<infEvento Id="{event_id}"><cOrgao>35</cOrgao><tpAmb>1</tpAmb><CNPJ>{ISSUER_CNPJ}</CNPJ>
<chCTe>{key}</chCTe><dhEvento>2024-03-08T11:00:00-03:00</dhEvento><tpEvento>110111</tpEvento>
<nSeqEvento>1</nSeqEvento><detEvento versaoEvento="4.00"><evCancCTe><descEvento>Cancelamento</descEvento>
<nProt>135240000000004</nProt><xJust>Frete contratado em duplicidade</xJust></evCancCTe></detEvento>
</infEvento>{signature(event_id)}</eventoCTe><retEventoCTe versao="4.00"><infEvento><tpAmb>1</tpAmb>
<verAplic>SP_1.0</verAplic><cOrgao>35</cOrgao><cStat>135</cStat><xMotivo>Evento registrado</xMotivo>
<chCTe>{key}</chCTe><tpEvento>110111</tpEvento><xEvento>Cancelamento</xEvento><nSeqEvento>1</nSeqEvento>
<dhRegEvento>2024-03-08T11:00:04-03:00</dhRegEvento><nProt>135240000000005</nProt></infEvento>
</retEventoCTe></procEventoCTe>""".encode()


def proc_evento_mdfe(key: str) -> bytes:
    """A procEventoMDFe v3.00: the MDF-e's closing (encerramento) and SEFAZ's answer."""
    event_id = f"ID110112{key}01"
    return f"""<procEventoMDFe xmlns="{MDFE_NS}" versao="3.00"><eventoMDFe versao="3.00">
<infEvento Id="{event_id}"><cOrgao>35</cOrgao><tpAmb>1</tpAmb><CNPJ>{ISSUER_CNPJ}</CNPJ>
<chMDFe>{key}</chMDFe><dhEvento>2024-03-09T18:00:00-03:00</dhEvento><tpEvento>110112</tpEvento>
<nSeqEvento>1</nSeqEvento><detEvento versaoEvento="3.00"><evEncMDFe><descEvento>Encerramento</descEvento>
<nProt>935240000000006</nProt><dtEnc>2024-03-09</dtEnc><cUF>35</cUF><cMun>3550308</cMun></evEncMDFe>
</detEvento></infEvento>{signature(event_id)}</eventoMDFe><retEventoMDFe versao="3.00"><infEvento>
<tpAmb>1</tpAmb><verAplic>SVRS_1.0</verAplic><cOrgao>35</cOrgao><cStat>135</cStat>
<xMotivo>Evento registrado</xMotivo><chMDFe>{key}</chMDFe><tpEvento>110112</tpEvento>
<xEvento>Encerramento</xEvento><nSeqEvento>1</nSeqEvento><dhRegEvento>2024-03-09T18:00:02-03:00</dhRegEvento>
<nProt>935240000000007</nProt></infEvento></retEventoMDFe></procEventoMDFe>""".encode()


def nfse_evento(key: str = NFSE_KEY) -> bytes:
    """An NFS-e Nacional evento v1.01: the ADN's record of a registered cancellation."""
    request_id = f"PRE{key}101101"  # layout 1.01 dropped nPedRegEvento from this Id
    event_id = f"EVT{key}101101002"
    return f"""<evento xmlns="{NFSE_NS}" versao="1.01"><infEvento Id="{event_id}">
<verAplic>SefinNac_1.0</verAplic><ambGer>2</ambGer><nSeqEvento>2</nSeqEvento>
<dhProc>2024-03-10T14:00:05-03:00</dhProc><nDFSe>9876</nDFSe><pedRegEvento versao="1.01">
<infPedReg Id="{request_id}"><tpAmb>1</tpAmb><verAplic>Emissor_1.0</verAplic>
<dhEvento>2024-03-10T14:00:00-03:00</dhEvento><CNPJAutor>{ISSUER_CNPJ}</CNPJAutor><chNFSe>{key}</chNFSe>
<e101101><xDesc>Cancelamento de NFS-e</xDesc><cMotivo>1</cMotivo><xMotivo>Erro na emissao da nota</xMotivo>
</e101101></infPedReg></pedRegEvento></infEvento>{signature(event_id)}</evento>""".encode()


def _address(group: str) -> str:
    return (
        f"<{group}><xLgr>Rua das Flores</xLgr><nro>100</nro><xBairro>Centro</xBairro>"
        f"<cMun>3550308</cMun><xMun>Sao Paulo</xMun><UF>SP</UF></{group}>"
    )


def _gtve_party(group: str, address: str, cnpj: str, name: str) -> str:
    return f"<{group}><CNPJ>{cnpj}</CNPJ><xNome>{name}</xNome>{_address(address)}</{group}>"


SENDER_CNPJ = "06990590000123"
RECIPIENT_CNPJ = "60746948000112"
THIRD_PARTY_CNPJ = "33000167000101"


def gtve_proc(key: str, *, taker: str = "0", species: tuple[str, ...] = ("1500.00", "250.50")) -> bytes:
    """A GTVeProc v4.00. ``taker`` is the tomador's role code (0 sender, 1 recipient), or "4" for a
    third party given in full; ``species`` are the values carried, one infEspecie each."""
    tomador = (
        f"<tomaTerceiro><toma>4</toma><CNPJ>{THIRD_PARTY_CNPJ}</CNPJ><xNome>Banco Pagador SA</xNome>"
        f"{_address('enderToma')}</tomaTerceiro>"
        if taker == "4"
        else f"<toma><toma>{taker}</toma></toma>"
    )
    especies = "".join(
        f"<infEspecie><tpEspecie>1</tpEspecie><vEspecie>{value}</vEspecie><tpNumerario>1</tpNumerario></infEspecie>"
        for value in species
    )
    return f"""<GTVeProc xmlns="{CTE_NS}" versao="4.00"><GTVe versao="4.00">
<infCte versao="4.00" Id="CTe{key}"><ide><cUF>35</cUF><cCT>12345678</cCT><CFOP>5353</CFOP>
<natOp>Transporte de valores</natOp><mod>64</mod>
<serie>1</serie><nCT>123</nCT><dhEmi>2024-03-11T07:00:00-03:00</dhEmi><tpImp>1</tpImp><tpEmis>1</tpEmis>
<cDV>{key[-1]}</cDV><tpAmb>1</tpAmb><tpCTe>4</tpCTe><verProc>GTV 1.0</verProc><cMunEnv>3550308</cMunEnv>
<xMunEnv>Sao Paulo</xMunEnv><UFEnv>SP</UFEnv><modal>01</modal><tpServ>9</tpServ><indIEToma>1</indIEToma>
<dhSaidaOrig>2024-03-11T08:00:00-03:00</dhSaidaOrig><dhChegadaDest>2024-03-11T09:00:00-03:00</dhChegadaDest>
{tomador}</ide><emit><CNPJ>{ISSUER_CNPJ}</CNPJ><IE>123456789012</IE><xNome>Transvalores Exemplo SA</xNome>
{_address("enderEmit")}</emit>{_gtve_party("rem", "enderReme", SENDER_CNPJ, "Loja Remetente Ltda")}
{_gtve_party("dest", "enderDest", RECIPIENT_CNPJ, "Banco Destino SA")}
<detGTV>{especies}<qCarga>2.0000</qCarga><infVeiculo><placa>ABC1D23</placa></infVeiculo></detGTV></infCte>{signature(f"CTe{key}")}</GTVe>
<protCTe versao="4.00"><infProt><tpAmb>1</tpAmb><verAplic>SP_1.0</verAplic><chCTe>{key}</chCTe>
<dhRecbto>2024-03-11T07:00:05-03:00</dhRecbto><nProt>135240000000008</nProt><cStat>100</cStat>
<xMotivo>Autorizado o uso do CT-e</xMotivo></infProt></protCTe></GTVeProc>""".encode()


def with_protocol(
    document: bytes, *, proc: str, protocol: str, key_element: str, versao: str, cstat: str = "100"
) -> bytes:
    """``document`` inside its proc envelope, followed by the authority's answer with ``cstat``.

    The protocol names the key at the end of the document's Id; ``versao`` is the envelope's.
    """
    root = etree.fromstring(document)
    namespace = etree.QName(root).namespace
    key = root[0].get("Id", "")[-44:]
    return (
        f'<{proc} xmlns="{namespace}" versao="{versao}">{etree.tostring(root).decode()}'
        f'<{protocol} versao="{versao}"><infProt><tpAmb>2</tpAmb><verAplic>SP_1.0</verAplic>'
        f"<{key_element}>{key}</{key_element}><dhRecbto>2024-03-12T10:00:00-03:00</dhRecbto>"
        f"<nProt>135240000000009</nProt><cStat>{cstat}</cStat><xMotivo>Resposta</xMotivo></infProt>"
        f"</{protocol}></{proc}>"
    ).encode()
