//! The portal's words, in English and Kiswahili, by key.

use crate::core::model::Lang;

/// The portal's words in English and Kiswahili.
pub(crate) fn tr(lang: Lang, key: &str) -> &'static str {
    let (en, sw) = match key {
        "tagline" => (
            "Fast Wi-Fi. Pay with M-Pesa.",
            "Wi-Fi ya kasi. Lipa kwa M-Pesa.",
        ),
        "choose" => ("Choose a package", "Chagua kifurushi"),
        "phone" => ("M-Pesa phone number", "Nambari ya simu ya M-Pesa"),
        "buy" => ("Pay with M-Pesa", "Lipa kwa M-Pesa"),
        "voucher" => ("Have a voucher?", "Una vocha?"),
        "code" => ("Voucher code", "Nambari ya vocha"),
        "redeem" => ("Use voucher", "Tumia vocha"),
        "online" => ("You are online", "Umeunganishwa"),
        "left" => ("time left", "muda uliobaki"),
        "data" => ("Data left", "Data iliyobaki"),
        "unlimited" => ("Unlimited data", "Data bila kikomo"),
        "until" => ("until", "hadi"),
        "of" => ("of", "kati ya"),
        "up_to" => ("up to", "hadi"),
        "sent_to" => ("Prompt sent to", "Ombi limetumwa kwa"),
        "you_pay" => ("You pay", "Unalipa"),
        "paybill" => ("PayBill", "PayBill"),
        "till" => ("Till", "Till"),
        "account" => ("account", "akaunti"),
        "waiting" => ("Waiting", "Tunasubiri"),
        "no_prompt" => ("Didn't get the prompt?", "Hukupata ombi?"),
        "no_prompt_help" => (
            "Unlock your phone and keep the screen on: the prompt only shows on an unlocked \
             phone. Check that the number above is the M-Pesa line in this phone. The prompt \
             lasts about a minute; if it does not come, this page lets you try again.",
            "Fungua simu yako na uache skrini iwake: ombi huonekana tu simu ikiwa wazi. Hakikisha \
             nambari iliyo juu ni laini ya M-Pesa iliyo kwenye simu hii. Ombi hudumu kama \
             dakika moja; lisipokuja, ukurasa huu utakuruhusu kujaribu tena.",
        ),
        "try_again" => ("Try again", "Jaribu tena"),
        "try_now" => ("You can try again now.", "Unaweza kujaribu tena sasa."),
        "help" => ("Need help? Call", "Unahitaji msaada? Piga"),
        "terms" => ("Terms and privacy", "Masharti na faragha"),
        "bad_phone" => (
            "Enter a Safaricom number, like 0712 345 678.",
            "Weka nambari ya Safaricom, kama 0712 345 678.",
        ),
        "pick" => ("Choose a package first.", "Chagua kifurushi kwanza."),
        "more" => ("Buy more time", "Nunua muda zaidi"),
        "check_phone" => (
            "Check your phone: enter your M-Pesa PIN to pay.",
            "Angalia simu yako: weka PIN yako ya M-Pesa ili kulipa.",
        ),
        "sending" => (
            "Sending the payment request to your phone...",
            "Tunatuma ombi la malipo kwa simu yako...",
        ),
        "paid" => ("Paid. You are online.", "Umelipa. Umeunganishwa."),
        "cancelled" => (
            "You cancelled the payment. Nothing was charged. To buy, choose a package and pay again.",
            "Umesitisha malipo. Hukutozwa chochote. Ili kununua, chagua kifurushi ulipe tena.",
        ),
        "timed_out" => (
            "The payment request timed out: nobody answered it within a minute. Nothing was \
             charged. Unlock your phone, then try again.",
            "Muda wa ombi la malipo umeisha: halikujibiwa ndani ya dakika moja. Hukutozwa. \
             Fungua simu yako, kisha ujaribu tena.",
        ),
        "wrong_pin" => (
            "Wrong M-Pesa PIN. Nothing was charged. Try again.",
            "PIN ya M-Pesa si sahihi. Hukutozwa. Jaribu tena.",
        ),
        "funds" => (
            "Not enough money on M-Pesa for this package. Nothing was charged. Top up M-Pesa, or \
             choose a cheaper package.",
            "Salio la M-Pesa halitoshi kwa kifurushi hiki. Hukutozwa. Ongeza salio la M-Pesa, au \
             chagua kifurushi cha bei nafuu.",
        ),
        "no_room" => (
            "Sales are paused: the router's storage is full. Guests already online stay \
             online. Ask staff for help.",
            "Mauzo yamesitishwa: hifadhi ya router imejaa. Walio mtandaoni wanaendelea. \
             Omba msaada kwa mhudumu.",
        ),
        "busy" => (
            "Your phone is busy with another M-Pesa request. Wait a minute and try again.",
            "Simu yako ina ombi lingine la M-Pesa. Subiri dakika moja ujaribu tena.",
        ),
        "failed" => (
            "The payment did not go through. Nothing was charged. Try again.",
            "Malipo hayakufaulu. Hukutozwa. Jaribu tena.",
        ),
        "bad_voucher" => (
            "That voucher code is not valid.",
            "Nambari hiyo ya vocha si sahihi.",
        ),
        "used_voucher" => (
            "That voucher has already been used.",
            "Vocha hiyo imeshatumika.",
        ),
        "unknown_device" => (
            "We cannot see your device on the Wi-Fi. Reconnect and try again.",
            "Hatuoni kifaa chako kwenye Wi-Fi. Unganisha upya ujaribu tena.",
        ),
        "clock" => (
            "The router is still starting up. Try again in a minute.",
            "Router bado inawaka. Jaribu tena baada ya dakika moja.",
        ),
        "blocked" => (
            "This device is blocked. Ask staff for help.",
            "Kifaa hiki kimezuiwa. Omba msaada kwa mhudumu.",
        ),
        "clone" => (
            "Another device is using this device's address. Ask staff for help.",
            "Kifaa kingine kinajitambulisha kama kifaa hiki. Omba msaada kwa mhudumu.",
        ),
        "error" => (
            "Something went wrong. Try again.",
            "Hitilafu imetokea. Jaribu tena.",
        ),
        "no_package" => ("That package is not on sale.", "Kifurushi hicho hakiuzwi."),
        "pending" => (
            "A payment is waiting for your PIN.",
            "Malipo yanasubiri PIN yako.",
        ),
        "see_payment" => ("See payment", "Angalia malipo"),
        "ended" => ("Your session has ended.", "Muda wako umeisha."),
        "receipt" => ("M-Pesa receipt", "Risiti ya M-Pesa"),
        "switch" => ("Kiswahili", "English"),
        "slow_down" => ("Too many tries. Wait a minute and try again.", "Majaribio mengi mno. Subiri dakika moja ujaribu tena."),
        "move" => ("Paid on this phone before? Move your time here", "Ulilipa awali kwa simu hii? Hamisha muda wako hapa"),
        "move_help" => (
            "If your phone changed its Wi-Fi address, enter the move code from your payment page and the number that paid.",
            "Kama simu yako imebadilisha utambulisho wake kwenye Wi-Fi, weka nambari ya kuhamisha kutoka ukurasa wa malipo yako na nambari iliyolipa.",
        ),
        "receipt_code" => ("Move code", "Nambari ya kuhamisha"),
        "move_code" => (
            "Move code (keep it secret: with the number that paid, it moves your time to this phone if its Wi-Fi address changes)",
            "Nambari ya kuhamisha (itunze siri: pamoja na nambari iliyolipa, inahamisha muda wako kwenye simu hii ikibadilisha utambulisho wake kwenye Wi-Fi)",
        ),
        "move_button" => ("Move my time here", "Hamisha muda wangu hapa"),
        "move_not_found" => (
            "No running purchase matches that code and phone number.",
            "Hakuna ununuzi unaoendelea wenye risiti na nambari hiyo.",
        ),
        "move_too_soon" => ("This purchase was moved recently. Try again later.", "Ununuzi huu umehamishwa hivi karibuni. Jaribu baadaye."),
        "too_soon" => (
            "M-Pesa takes the same amount from one number only once every two minutes. Pay for \
             this package again in {t}, or choose another package now.",
            "M-Pesa hupokea kiasi kilekile kutoka nambari moja mara moja tu kila dakika mbili. \
             Lipia kifurushi hiki tena baada ya {t}, au chagua kifurushi kingine sasa.",
        ),
        "phone_prompted" => (
            "This number has had three M-Pesa prompts in the last ten minutes. Try again in {t}, \
             or use a voucher.",
            "Nambari hii imepokea maombi matatu ya M-Pesa ndani ya dakika kumi. Jaribu tena \
             baada ya {t}, au tumia vocha.",
        ),
        "too_many" => (
            "Too many payment attempts from this device. Try again in {t}.",
            "Majaribio mengi mno ya malipo kutoka kifaa hiki. Jaribu tena baada ya {t}.",
        ),
        "unanswered" => (
            "M-Pesa did not answer. If money left your account, paste the M-Pesa message below; \
             otherwise try again.",
            "M-Pesa haikujibu. Kama pesa zimetoka kwenye akaunti yako, bandika ujumbe wa M-Pesa \
             hapa chini; la sivyo jaribu tena.",
        ),
        "sms_title" => (
            "Paid but not online? Paste your M-Pesa message",
            "Umelipa lakini hujaunganishwa? Bandika ujumbe wako wa M-Pesa",
        ),
        "sms_label" => ("M-Pesa message", "Ujumbe wa M-Pesa"),
        "package" => ("Package", "Kifurushi"),
        "sms_send" => ("Check my payment", "Angalia malipo yangu"),
        "sms_checking" => (
            "Checking your payment with M-Pesa. Look again in a moment.",
            "Tunathibitisha malipo yako na M-Pesa. Angalia tena baada ya muda mfupi.",
        ),
        "sms_sent" => (
            "We could not confirm this payment ourselves. The owner will check it; you are \
             connected as soon as it is approved.",
            "Hatukuweza kuthibitisha malipo haya wenyewe. Mmiliki ataangalia; \
             utaunganishwa mara atakapokubali.",
        ),
        "sms_not_payment" => (
            "That is not an M-Pesa payment message. Paste the whole message, starting with \
             the code.",
            "Huo si ujumbe wa malipo ya M-Pesa. Bandika ujumbe wote, ukianza na nambari ya \
             muamala.",
        ),
        "sms_used" => (
            "That M-Pesa payment has already been used.",
            "Malipo hayo ya M-Pesa yameshatumika.",
        ),
        "sms_waiting" => (
            "That payment is already waiting for the owner.",
            "Malipo hayo tayari yanasubiri mmiliki.",
        ),
        "sms_rejected" => (
            "The owner did not accept that payment. Ask staff for help.",
            "Mmiliki hakukubali malipo hayo. Omba msaada kwa mhudumu.",
        ),
        "sms_low" => (
            "That payment is less than the price of the package.",
            "Malipo hayo ni chini ya bei ya kifurushi.",
        ),
        "owner_busy" => (
            "Too many payments are waiting for the owner. Ask staff for help.",
            "Malipo mengi yanamsubiri mmiliki. Omba msaada kwa mhudumu.",
        ),
        _ => ("", ""),
    };
    match lang {
        Lang::En => en,
        Lang::Sw => sw,
    }
}
