"""Two-way referral (双向转诊, domain.md section 5) on the coordination machine: who may
refer whom (admission), the receiver's reserved places (capacity), what each step tells
both parties (outputs), one referral's stored state (record), the flow (engine) and the
office's figures (figures). Pure: no Faust, no Kafka, no clock of its own."""
