"""Every answer the simulator gives, as one table: cStat, xMotivo and what it costs the caller.

Several 656 rows share the code and differ in xMotivo because SEFAZ tells the reason in the text.
Texts are ASCII without accents, as the AN writes them (e.g. "Rejeicao: Consumo Indevido (...)").
Rows marked VIOLATION or BLOCK mean the caller broke a rule it could have known: they go to the
ledger, and BLOCK rows also block the CNPJ for an hour (NT 2014.002 v1.12).
"""

from __future__ import annotations

from enum import Enum


class Consequence(Enum):
    """What an answer means for the caller beyond its text."""

    NONE = "none"  # an answer, or a rejection the caller could not have foreseen
    VIOLATION = "violation"  # a rule broken: recorded in the ledger
    BLOCK = "block"  # a usage rule broken: recorded, and the CNPJ blocked for an hour


_OK = Consequence.NONE
_BROKE = Consequence.VIOLATION
_BLOCK = Consequence.BLOCK
_CONSUMO = "Rejeicao: Consumo Indevido"


class Code(Enum):
    """An answer of the distribution and event services: ``cstat``, ``xmotivo``, ``consequence``."""

    # Distribution: answers.
    FOUND = ("138", "Documento(s) localizado(s)", _OK)
    NOTHING_FOUND = ("137", "Nenhum documento localizado", _OK)
    PAUSED_SHORT = ("108", "Servico Paralisado Momentaneamente (curto prazo)", _OK)
    PAUSED_NO_FORECAST = ("109", "Servico Paralisado sem Previsao", _OK)
    NOT_IN_DATABASE = ("217", "Rejeicao: NF-e nao consta na base de dados da SEFAZ", _OK)
    CANCELLED = ("653", "Rejeicao: NF-e Cancelada, arquivo indisponivel para download", _OK)
    DENIED = ("654", "Rejeicao: NF-e Denegada, arquivo indisponivel para download", _OK)
    # Distribution and events: the message itself.
    SCHEMA_INVALID = ("215", "Rejeicao: Falha no schema XML", _BROKE)
    ENVIRONMENT_MISMATCH = ("252", "Rejeicao: Ambiente informado diverge do Ambiente de recebimento", _BROKE)
    NAMESPACE_PREFIX = ("404", "Rejeicao: Uso de prefixo de namespace nao permitido", _BROKE)
    FORMATTING_CHARACTERS = (
        "588",
        "Rejeicao: Nao e permitida a presenca de caracteres de edicao no inicio/fim da mensagem ou "
        "entre as tags da mensagem",
        _BROKE,
    )
    CERTIFICATE_WITHOUT_CNPJ = ("282", "Rejeicao: Certificado Transmissor sem CNPJ", _BROKE)
    KEY_CHECK_DIGIT = ("236", "Rejeicao: Chave de Acesso com digito verificador invalido", _BROKE)
    # Distribution: permission and availability.
    NSU_ABOVE_MAX = (
        "589",
        "Rejeicao: Numero do NSU informado superior ao maior NSU da base de dados da SEFAZ",
        _BROKE,
    )
    CNPJ_BASE_MISMATCH = (
        "593",
        "Rejeicao: CNPJ-Base consultado difere do CNPJ-Base do Certificado Digital",
        _BROKE,
    )
    OUT_OF_WINDOW = (
        "632",
        "Rejeicao: Solicitacao fora de prazo, a NF-e nao esta mais disponivel para download",
        _BROKE,
    )
    NOT_PERMITTED = (
        "640",
        "Rejeicao: CNPJ/CPF do interessado nao possui permissao para consultar esta NF-e",
        _BROKE,
    )
    OWN_NOTE = ("641", "Rejeicao: NF-e indisponivel para o emitente", _BROKE)
    # Distribution: consumo indevido, each with the reason SEFAZ gives.
    WAIT_AFTER_EMPTY = (
        "656",
        f"{_CONSUMO} (Deve ser aguardado 1 hora para efetuar nova solicitacao caso nao existam mais "
        "documentos a serem pesquisados. Tente apos 1 hora)",
        _BLOCK,
    )
    WRONG_ULT_NSU = (
        "656",
        f"{_CONSUMO} (Deve ser utilizado o ultNSU nas solicitacoes subsequentes. Tente apos 1 hora)",
        _BLOCK,
    )
    SINGLE_QUERY_LIMIT = (
        "656",
        f"{_CONSUMO} (Excedido o limite de 20 consultas por hora de consNSU/consChNFe. Tente apos 1 hora)",
        _BLOCK,
    )
    # Events (RecepcaoEvento 4.00 at the AN).
    BATCH_PROCESSED = ("128", "Lote de evento processado", _OK)
    EVENT_REGISTERED = ("135", "Evento registrado e vinculado a NF-e", _OK)
    EVENT_DUPLICATE = ("573", "Rejeicao: Duplicidade de evento", _OK)
    NFE_NOT_AUTHORIZED = ("580", "Rejeicao: O evento exige uma NF-e autorizada", _OK)
    CIENCIA_AFTER_CONCLUSIVE = (
        "655",
        "Rejeicao: Evento de Ciencia da Operacao informado apos a manifestacao final do destinatario",
        _OK,
    )
    SIGNATURE_MISMATCH = ("297", "Rejeicao: Assinatura difere do calculado", _BROKE)
    KEY_UNKNOWN = ("494", "Rejeicao: Chave de Acesso inexistente", _BROKE)
    EVENT_ID_MISMATCH = (
        "572",
        "Rejeicao: Erro Atributo ID do evento nao corresponde a concatenacao dos campos "
        "(ID + tpEvento + chNFe + nSeqEvento)",
        _BROKE,
    )
    AUTHOR_NOT_RECIPIENT = ("575", "Rejeicao: O autor do evento diverge do destinatario da NF-e", _BROKE)
    EVENT_BEFORE_ISSUE = (
        "577",
        "Rejeicao: A data do evento nao pode ser menor que a data de emissao da NF-e",
        _BROKE,
    )
    EVENT_IN_FUTURE = (
        "578",
        "Rejeicao: A data do evento nao pode ser maior que a data do processamento",
        _BROKE,
    )
    SIGNER_CNPJ_BASE = (
        "631",
        "Rejeicao: CNPJ-Base do Destinatario difere do CNPJ-Base do Certificado Digital",
        _BROKE,
    )
    SEQUENCE_TOO_HIGH = (
        "594",
        "Rejeicao: O numero de sequencia do evento informado e maior que o permitido",
        _BROKE,
    )
    JUSTIFICATION_REQUIRED = ("595", "Rejeicao: Obrigatoria a informacao da justificativa do evento", _BROKE)
    EVENT_LATE = ("596", "Rejeicao: Evento apresentado fora do prazo", _BROKE)

    def __init__(self, cstat: str, xmotivo: str, consequence: Consequence) -> None:
        self.cstat = cstat
        self.xmotivo = xmotivo
        self.consequence = consequence

    @property
    def violation(self) -> bool:
        """True when the caller broke a rule it could have known (the ledger records it)."""
        return self.consequence is not Consequence.NONE

    @property
    def blocks(self) -> bool:
        """True when SEFAZ answers by blocking the CNPJ for an hour (656)."""
        return self.consequence is Consequence.BLOCK


Rejection = tuple[Code, str]
"""A refusal: the answer and, for the ledger, what exactly was wrong."""
